/**
 * svscan's hosted loggers with `setuidgid USER` and `envdir DIR` in `log/run` (issue 9;
 * docs/svscan.md "Hosted loggers"): the same files, owners, modes, messages and exit codes as
 * the process form, which runs the same `log/run` under the opt-out file (our setuidgid +
 * multilog as processes) or, where installed, as Debian's setuidgid + multilog. Real svscans,
 * a real account (`nobody`), exact bytes.
 */
import { assert, assertEquals } from "./assert.ts";
import { tree } from "./fixtures.ts";
import { readHistory } from "../lib/history.ts";
import { debian, processesUnder, prog, readOr, script, statusPid, waitFor } from "./util.ts";

/** The account the loggers run as: `nobody` from /etc/passwd. */
const USER = "nobody";
const pw = (() => {
  try {
    const l = Deno.readTextFileSync("/etc/passwd").split("\n").find((x) =>
      x.startsWith(`${USER}:`)
    );
    if (!l) return undefined;
    const f = l.split(":");
    return { uid: Number(f[2]), gid: Number(f[3]) };
  } catch {
    return undefined;
  }
})();
const isRoot = Deno.uid() === 0;
/** Why these tests cannot run here (they are then reported as ignored). */
const ignore = !isRoot || pw === undefined;

const dec = new TextDecoder();

/** svscan on `dir` with our programs first in PATH; stdout and stderr collected. */
class Scan {
  readonly child: Deno.ChildProcess;
  out = "";
  err = "";
  constructor(readonly dir: string) {
    this.child = new Deno.Command(prog("svscan"), {
      args: [dir],
      env: { PATH: `${prog("svscan").replace(/\/svscan$/, "")}:${Deno.env.get("PATH")}` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#collect(this.child.stdout, (s) => (this.out += s));
    this.#collect(this.child.stderr, (s) => (this.err += s));
  }
  async #collect(r: ReadableStream<Uint8Array>, add: (s: string) => void) {
    for await (const c of r) add(dec.decode(c, { stream: true }));
  }
  get pid(): number {
    return this.child.pid;
  }
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.child.status;
  }
}

/**
 * Two scan directories in one scratch tree, `hosted` and `process` (the opt-out file in it),
 * each given the same services by `setup`; a svscan on each. `fn` gets both.
 */
async function both(
  setup: (dir: string) => Promise<void>,
  fn: (h: Scan, p: Scan) => Promise<void>,
): Promise<void> {
  await using t = await tree();
  await Deno.chmod(t.root, 0o755);
  const h = t.path("hosted"), p = t.path("process");
  for (const d of [h, p]) {
    await Deno.mkdir(d);
    await setup(d);
  }
  await Deno.writeTextFile(`${p}/.svscan-no-hosted-loggers`, "");
  const scans = [new Scan(h), new Scan(p)];
  t.defer(async () => {
    for (const s of scans) await s.stop();
  });
  await fn(scans[0], scans[1]);
}

/** Service `dir/name` whose run prints `hello` lines, with this `log/run`; the log dir's owner. */
async function logged(
  dir: string,
  name: string,
  log: string,
  owner?: { uid: number; gid: number },
  run = "#!/bin/sh\necho hello\necho world\nexec sleep 1000\n",
): Promise<string> {
  const d = `${dir}/${name}`;
  await Deno.mkdir(`${d}/log`, { recursive: true });
  await script(`${d}/run`, run);
  await script(`${d}/log/run`, log);
  if (owner) await Deno.chown(`${d}/log`, owner.uid, owner.gid);
  return `${d}/log`;
}

/** `uid gid mode` of every file in `dir` (`@...` names masked), sorted; plus the dir's own. */
function owners(dir: string): string[] {
  const one = (name: string, path: string) => {
    const st = Deno.lstatSync(path);
    return `${name} ${st.uid} ${st.gid} ${(st.mode! & 0o7777).toString(8)}`;
  };
  const out = [one(".", dir)];
  for (const e of Deno.readDirSync(dir)) {
    out.push(one(e.name.replace(/^@[0-9a-f]{24}/, "@"), `${dir}/${e.name}`));
  }
  return out.sort();
}

/** Name of the one finished file `@....s` in `dir`, or undefined. */
function finished(dir: string): string | undefined {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).find((n) => /^@[0-9a-f]{24}\.s$/.test(n));
  } catch {
    return undefined;
  }
}

/** Seconds `svstat` shows the service up (-1: not up). */
async function upFor(dir: string): Promise<number> {
  const r = await new Deno.Command(prog("svstat"), { args: [dir] }).output();
  const m = / up \(pid \d+\) (\d+) seconds/.exec(dec.decode(r.stdout));
  return m ? Number(m[1]) : -1;
}

async function svc(args: string[]): Promise<void> {
  const r = await new Deno.Command(prog("svc"), { args }).output();
  assertEquals(r.code, 0);
}

/** The processor: writes uid, gid, groups and $FOO, then the lines; `st` into newstate. */
const PROC = `'!id -u; id -g; id -G; echo "FOO=$FOO"; cat; echo st >&5'`;

Deno.test({
  name: "svscan hosted setuidgid: owners, modes and the processor's ids as the process form's",
  ignore,
  fn: () =>
    both(async (d) => {
      await logged(d, "a", `#!/bin/sh\nexec setuidgid ${USER} multilog t ${PROC} ./main\n`, pw);
    }, async (h, p) => {
      const want = `${pw!.uid}\n${pw!.gid}\n${pw!.gid}\nFOO=\nhello\nworld\n`;
      const got: Record<string, string[]> = {};
      for (const s of [h, p]) {
        const log = `${s.dir}/a/log`;
        await waitFor("both lines", () => readOr(`${log}/main/current`).includes("world"));
        await svc(["-a", log]);
        const f = await waitFor("the processed file", () => finished(`${log}/main`));
        const text = readOr(`${log}/main/${f}`).replace(/@[0-9a-f]{24} /g, "");
        assertEquals(text, want, s === h ? "hosted" : "process");
        assertEquals(readOr(`${log}/main/state`), "st\n");
        got[s === h ? "hosted" : "process"] = owners(`${log}/main`);
      }
      assertEquals(got.hosted, got.process);
      // the files really are the account's (not root's, and not merely alike)
      assert(got.hosted.includes(`current ${pw!.uid} ${pw!.gid} 644`), got.hosted.join("|"));
      assert(got.hosted.includes(`lock ${pw!.uid} ${pw!.gid} 600`), got.hosted.join("|"));
      // hosted: no logger process, the status shows svscan
      const log = `${h.dir}/a/log`;
      assertEquals(statusPid(log), h.pid);
      assertEquals(processesUnder(log), []);
      assert(statusPid(`${p.dir}/a/log`) !== p.pid);
      // svscan's own files are still root's after the logger ran: a restart of the logger
      // rewrites its status (up for over a second: the supervisor starts it again at once,
      // from within the logger's end), a new service gets its supervise/ files
      await waitFor("the logger up for 2 seconds", async () => (await upFor(log)) >= 2);
      await svc(["-t", log]);
      await waitFor("the logger restarted", async () => (await upFor(log)) < 2);
      await logged(h.dir, "b", "#!/bin/sh\nexec multilog t ./main\n");
      await waitFor("b's logger", () => readOr(`${h.dir}/b/log/main/current`).includes("world"));
      for (
        const f of [
          `${log}/supervise/status`,
          `${h.dir}/b/supervise/status`,
          `${h.dir}/b/log/supervise/lock`,
          `${h.dir}/b/log/main/current`,
        ]
      ) {
        const st = Deno.statSync(f);
        assertEquals([st.uid, st.gid], [0, 0], f);
      }
      assertEquals(h.err, "");
    }),
});

const haveDebian = debian("setuidgid") !== undefined && debian("multilog") !== undefined;

Deno.test({
  name: "svscan hosted setuidgid: owners and modes as Debian's setuidgid + multilog give",
  ignore: ignore || !haveDebian,
  fn: async () => {
    await using t = await tree();
    await Deno.chmod(t.root, 0o755);
    const dir = t.path("scan");
    await Deno.mkdir(dir);
    const ours = await logged(
      dir,
      "ours",
      `#!/bin/sh\nexec setuidgid ${USER} multilog t ./main\n`,
      pw,
    );
    const deb = await logged(
      dir,
      "deb",
      `#!/bin/sh\nexec ${debian("setuidgid")} ${USER} ${debian("multilog")} t ./main\n`,
      pw,
    );
    const s = new Scan(dir);
    t.defer(() => s.stop());
    for (const log of [ours, deb]) {
      await waitFor("both lines", () => readOr(`${log}/main/current`).includes("world"));
      await svc(["-a", log]);
      await waitFor("the rotated file", () => finished(`${log}/main`));
    }
    assertEquals(statusPid(ours), s.pid);
    assert(statusPid(deb) !== s.pid);
    assertEquals(owners(`${ours}/main`), owners(`${deb}/main`));
  },
});

/** Distinct lines of `text` that are `PROG: fatal: ...` for these programs, sorted. */
function fatals(text: string): string[] {
  const l = text.split("\n").filter((x) => /^(setuidgid|envdir|multilog): fatal: /.test(x));
  return [...new Set(l)].sort();
}

/**
 * Wait until `log` has ended twice (restarted after its failure): its last exit code, and
 * whether a process was ever seen working in `log` meanwhile (each poll looks: a process form
 * lives for a Deno start-up at least, many polls).
 */
async function failedTwice(log: string): Promise<[number | null | undefined, boolean]> {
  let seen = false;
  const h = await waitFor(
    "two failed starts",
    () => {
      if (processesUnder(log).length > 0) seen = true;
      const r = readHistory(`${log}/supervise/history`);
      return r && (r.starts ?? 0) >= 2 && r.lastExit ? r : undefined;
    },
    10_000,
    5,
  );
  return [h.lastExit?.code, seen];
}

/** Each case: a `log/run` and what to do to the log directory first; its expected message. */
const FAILING: [string, string, (log: string) => Promise<void>, string][] = [
  [
    "unwritable for USER (root's 0755 directory)",
    `#!/bin/sh\nexec setuidgid ${USER} multilog t ./main\n`,
    async () => {},
    "multilog: fatal: unable to open directory ./main: file does not exist",
  ],
  [
    "unwritable log directory for USER (root's 0755 main)",
    `#!/bin/sh\nexec setuidgid ${USER} multilog t ./main\n`,
    async (log) => await Deno.mkdir(`${log}/main`, { mode: 0o755 }),
    "multilog: fatal: unable to lock directory ./main: access denied",
  ],
  [
    "unknown account",
    "#!/bin/sh\nexec setuidgid no-such-account-x multilog t ./main\n",
    async () => {},
    "setuidgid: fatal: unknown account no-such-account-x",
  ],
  [
    "envdir missing",
    "#!/bin/sh\nexec envdir ./env multilog t ./main\n",
    async () => {},
    "envdir: fatal: unable to switch to directory ./env: file does not exist",
  ],
  [
    "envdir unreadable for USER (read as USER)",
    `#!/bin/sh\nexec setuidgid ${USER} envdir ./env multilog t ./main\n`,
    async (log) => {
      await Deno.chown(log, pw!.uid, pw!.gid);
      await Deno.mkdir(`${log}/env`, { mode: 0o700 });
      await Deno.writeTextFile(`${log}/env/FOO`, "bar\n");
    },
    "envdir: fatal: unable to switch to directory ./env: access denied",
  ],
];

for (const [what, run, prepare, message] of FAILING) {
  Deno.test({
    name: `svscan hosted: ${what}: the message and exit 111 of the process form, restarted`,
    ignore,
    fn: () =>
      both(async (d) => {
        const log = await logged(d, "a", run);
        await prepare(log);
      }, async (h, p) => {
        const [hosted, process] = await Promise.all(
          [h, p].map((s) => failedTwice(`${s.dir}/a/log`)),
        );
        // hosted: no process ever ran in the log directory
        assertEquals([hosted, process], [[111, false], [111, true]]);
        assertEquals(fatals(h.err), [message]);
        assertEquals(fatals(p.err), [message]);
        assertEquals(h.out + p.out, "");
        // and svscan's own service goes on
        assert(readOr(`${h.dir}/a/supervise/status`) !== "");
      }),
  });
}

Deno.test({
  name: "svscan hosted: exec 2>&1 sends the logger's and its processor's messages to svscan's fd 1",
  ignore,
  fn: () =>
    both(async (d) => {
      await logged(
        d,
        "a",
        "#!/bin/sh\nexec 2>&1\nexec setuidgid no-such-account-x multilog t ./main\n",
      );
      await logged(
        d,
        "b",
        `#!/bin/sh\nexec 2>&1\nexec setuidgid ${USER} multilog t '!echo perr >&2; cat' ./main\n`,
        pw,
      );
      // root's log directory: multilog's own fatal message
      await logged(d, "c", `#!/bin/sh\nexec 2>&1\nexec setuidgid ${USER} multilog t ./main\n`);
    }, async (h, p) => {
      for (const s of [h, p]) {
        await failedTwice(`${s.dir}/a/log`);
        await failedTwice(`${s.dir}/c/log`);
        const log = `${s.dir}/b/log`;
        await waitFor("both lines", () => readOr(`${log}/main/current`).includes("world"));
        await svc(["-a", log]);
        await waitFor("the processor's message", () => s.out.includes("perr\n"));
        assertEquals(fatals(s.out), [
          "multilog: fatal: unable to open directory ./main: file does not exist",
          "setuidgid: fatal: unknown account no-such-account-x",
        ]);
        assertEquals(fatals(s.err), []);
        assert(!s.err.includes("perr"), s.err);
      }
      assertEquals(statusPid(`${h.dir}/b/log`), h.pid);
    }),
});

Deno.test({
  name: "svscan hosted: envdir's variables reach the processor (as USER and as root)",
  ignore,
  fn: () =>
    both(async (d) => {
      for (const [name, su] of [["u", `setuidgid ${USER} `], ["r", ""]]) {
        const log = await logged(
          d,
          name,
          `#!/bin/sh\nexec ${su}envdir ./env multilog t ${PROC} ./main\n`,
          su ? pw : undefined,
        );
        await Deno.mkdir(`${log}/env`);
        await Deno.writeTextFile(`${log}/env/FOO`, "bar \t\nnot this line\n");
      }
    }, async (h, p) => {
      for (const s of [h, p]) {
        for (const [name, id] of [["u", pw!], ["r", { uid: 0, gid: 0 }]] as const) {
          const log = `${s.dir}/${name}/log`;
          await waitFor("both lines", () => readOr(`${log}/main/current`).includes("world"));
          await svc(["-a", log]);
          const f = await waitFor("the processed file", () => finished(`${log}/main`));
          assertEquals(
            readOr(`${log}/main/${f}`).replace(/@[0-9a-f]{24} /g, ""),
            `${id.uid}\n${id.gid}\n${id.gid}\nFOO=bar\nhello\nworld\n`,
            `${s === h ? "hosted" : "process"} ${name}`,
          );
        }
      }
      assertEquals(statusPid(`${h.dir}/u/log`), h.pid);
      assertEquals(statusPid(`${h.dir}/r/log`), h.pid);
      assertEquals(h.err, "");
    }),
});

Deno.test({
  name: "svscan hosted setuidgid: a symlink planted in the log directory is not followed",
  ignore,
  fn: async () => {
    await using t = await tree();
    await Deno.chmod(t.root, 0o755);
    const dir = t.path("scan");
    await Deno.mkdir(dir);
    const log = await logged(dir, "a", `#!/bin/sh\nexec setuidgid ${USER} multilog t ./main\n`, pw);
    // USER's own file outside the log directory: USER could write it, svscan must not
    const outside = t.path("outside");
    await Deno.writeTextFile(outside, "");
    await Deno.chown(outside, pw!.uid, pw!.gid);
    await Deno.mkdir(`${log}/main`, { mode: 0o700 });
    await Deno.symlink(outside, `${log}/main/current`);
    await Deno.chown(`${log}/main`, pw!.uid, pw!.gid);
    const s = new Scan(dir);
    t.defer(() => s.stop());
    const [code, seen] = await failedTwice(log);
    assertEquals([code, seen], [111, false]);
    assertEquals(fatals(s.err), [
      "multilog: fatal: unable to append to ./main/current: symbolic link loop",
    ]);
    assertEquals(readOr(outside), "");
  },
});
