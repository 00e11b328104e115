/**
 * svscan's hosted loggers with `setuidgid USER` and `envdir DIR` in `log/run` (issue 9;
 * docs/svscan.md "Hosted loggers"): the same files, owners, modes, messages and exit codes as
 * the process form, which runs the same `log/run` under the opt-out file (our setuidgid +
 * multilog as processes) or, where installed, as Debian's setuidgid + multilog. Real svscans,
 * a real account (`nobody`), exact bytes.
 */
import { assert, assertEquals } from "./assert.ts";
import { tree } from "./fixtures.ts";
import { processesUnder, prog, readOr, script, statusPid, waitFor } from "./util.ts";

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
