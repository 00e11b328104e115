/**
 * Hosted loggers under bad input and a bad disk (issue 9, "Bad input"; docs/svscan.md "Hosted
 * loggers"): a full file system, a processor that fails, one that hangs, a log directory whose
 * fsync does not return, a log directory that is a file / a dangling symlink / read-only. For
 * each: svscan keeps supervising (another service's `svc -t` goes through), the hosted logger
 * prints the very message the same multilog prints as a process (ours, and Debian's in the
 * `[vs Debian]` registration), and once the fault is gone every line the service wrote is in the
 * log exactly once. Real svscan, real services, real file systems (a tmpfs, a throttled loop
 * device); a setup this machine cannot make is reported as ignored.
 */
import { assert, assertEquals } from "./assert.ts";
import { debian, prog, readOr, run, statusPid, waitFor } from "./util.ts";
import { exists, type Scan, service, type Tree, waitUp, withScan } from "./svscan_util.ts";
import { canMountTmpfs, mountTmpfs, SlowDisk, slowDiskMissing, unmount } from "./slow_disk.ts";

const HELLO = "#!/bin/sh\necho hello\nexec sleep 1000\n";
const LOG = "#!/bin/sh\nexec multilog t ./main\n";

/** Lines stored in log directory `main` (old files in name order, then current), unstamped. */
function stored(main: string): string[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(main)].map((e) => e.name).filter((n) => n.startsWith("@"));
  } catch {
    return [];
  }
  const text = [...names.sort(), "current"].map((n) => readOr(`${main}/${n}`)).join("");
  return text.split("\n").filter((l) => l !== "").map((l) => l.replace(/^@[0-9a-f]{24} /, ""));
}

/**
 * A service that writes `NAME start`, waits for the file `gate`, writes `n` numbered lines and
 * `NAME end`, then sleeps. {@linkcode written} is what it writes.
 */
function writer(name: string, n: number, gate: string): string {
  return `#!/bin/sh\necho "${name} start"\nwhile [ ! -e ${gate} ]; do sleep 0.05; done\n` +
    `i=0\nwhile [ $i -lt ${n} ]; do i=$((i+1)); echo "${name} $i ${PAD}"; done\n` +
    `echo "${name} end"\nexec sleep 1000\n`;
}
const PAD = "p".repeat(30);

function written(name: string, n: number): string[] {
  return [
    `${name} start`,
    ...Array.from({ length: n }, (_, i) => `${name} ${i + 1} ${PAD}`),
    `${name} end`,
  ];
}

/**
 * Wait (up to `ms`) until log directory `main` holds exactly what writer `name` wrote
 * ({@linkcode written}), once and in order; else fail showing the last history seen. Not "the
 * last line, then compare": a rotation may follow (a logger restarted after TERM finishes its
 * 0744 `current` through the processor), and while `current` is `previous` its lines are in
 * no file {@linkcode stored} reads.
 */
async function everyLine(main: string, name: string, n: number, ms: number): Promise<void> {
  const want = written(name, n);
  let got: string[] = [];
  const whole = () =>
    (got = stored(main)).length === want.length && got.every((l, i) => l === want[i]);
  await waitFor(`${name}: every line`, whole, ms).catch(() => {});
  assertEquals(got, want, name);
}

/** The multilog lines of a stderr text. */
function multilogLines(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("multilog: "));
}

/**
 * One way of running the same multilog script as a log service: hosted inside svscan (its
 * messages on svscan's stderr), our multilog as a process and Debian's as a process (a
 * `log/run` the grammar refuses: it sends stderr to a file of its own).
 */
interface Form {
  name: string;
  log: string;
  messages(scan: Scan): string[];
}

function forms(dir: string, args: string, withDebian: boolean): Form[] {
  const proc = (name: string, bin: string): Form => ({
    name,
    log: `#!/bin/sh\nexec 2>>${dir}/.${name}.err\nexec ${bin} ${args}\n`,
    messages: () => multilogLines(readOr(`${dir}/.${name}.err`)),
  });
  const out: Form[] = [
    {
      name: "hosted",
      log: `#!/bin/sh\nexec multilog ${args}\n`,
      messages: (scan) => multilogLines(scan.err),
    },
    proc("process", "multilog"),
  ];
  if (withDebian) out.push(proc("debian", debian("multilog")!));
  return out;
}

/**
 * The {@linkcode forms} of `args`, each a service writing `n` lines once `dir/.go` exists;
 * `then(f)` after each is made.
 */
async function formServices(
  dir: string,
  args: string,
  n: number,
  withDebian: boolean,
  then?: (f: Form) => void,
): Promise<Form[]> {
  const all = forms(dir, args, withDebian);
  for (const f of all) {
    await service(dir, f.name, writer(f.name, n, `${dir}/.go`), f.log);
    then?.(f);
  }
  return all;
}

/**
 * Register `name` twice, as {@linkcode versus} does, but only one of them runs: with Debian's
 * multilog present, `name [vs Debian]` (hosted, ours as a process and Debian's); without it,
 * `name` (hosted and ours as a process) and the Debian one is reported as ignored.
 */
function faultTest(
  name: string,
  ignore: string | undefined,
  fn: (withDebian: boolean, t: Tree) => Promise<void>,
): void {
  const deb = debian("multilog") !== undefined;
  if (ignore !== undefined) console.error(`${name}: ignored: ${ignore}`);
  Deno.test({ name, ignore: ignore !== undefined || deb, fn: () => withScan((t) => fn(false, t)) });
  Deno.test({
    name: `${name} [vs Debian]`,
    ignore: ignore !== undefined || !deb,
    fn: () => withScan((t) => fn(true, t)),
  });
}

async function svc(args: string[], ...dirs: string[]): Promise<void> {
  const r = await run(prog("svc"), [...args, ...dirs]);
  assertEquals([r.code, r.stderr], [0, ""]);
}

/** `svc -t` of `path` goes through: it runs under a new pid. */
async function restarts(path: string): Promise<void> {
  const before = await waitUp(path);
  await svc(["-t"], path);
  await waitUp(path, before);
}

/**
 * `svc -t` of hosted logger `log` goes through: it ends and starts again (a newer status stamp,
 * svscan's pid).
 */
async function restartsHosted(log: string, scanPid: number): Promise<void> {
  const stamp = () => readOr(`${log}/supervise/status`).slice(0, 12);
  const before = stamp();
  assertEquals(statusPid(log), scanPid);
  await svc(["-t"], log);
  await waitFor(`${log} restarted`, () => stamp() !== before && statusPid(log) === scanPid);
}

/** Every form printed messages, and each of them is `expected`. */
function sameMessages(fs: Form[], scan: Scan, expected: string): void {
  for (const f of fs) {
    const m = f.messages(scan);
    assert(m.length > 0, `${f.name}: no message`);
    assertEquals([...new Set(m)], [expected], `${f.name}'s messages`);
  }
}

const canTmpfs = canMountTmpfs();

faultTest(
  "svscan hosted faults: a full file system pauses as multilog does; every line once after space comes back",
  canTmpfs ? undefined : "cannot mount a tmpfs here",
  async (withDebian, { dir, start, defer }) => {
    const N = 800;
    const fs = `${dir}/.fs`;
    assert(mountTmpfs(fs, "512k"), "mount tmpfs");
    defer(() => unmount(fs));
    const all = await formServices(dir, "t ./main", N, withDebian, (f) => {
      Deno.mkdirSync(`${fs}/${f.name}`);
      Deno.symlinkSync(`${fs}/${f.name}`, `${dir}/${f.name}/log/main`);
    });
    await service(dir, "other", HELLO);
    const scan = start();
    for (const f of all) {
      await waitFor(`${f.name} started`, () => stored(`${fs}/${f.name}`).length === 1);
    }
    assertEquals(statusPid(`${dir}/hosted/log`), scan.pid);
    // fill it up: the rest of the file system, written until it refuses
    await run("sh", ["-c", `cat /dev/zero > ${fs}/filler`]);
    await Deno.writeTextFile(`${dir}/.go`, "");
    const expected =
      "multilog: warning: unable to write to ./main/current, pausing: out of disk space";
    for (const f of all) {
      await waitFor(`${f.name}'s warning`, () => f.messages(scan).length > 0, 15_000);
    }
    sameMessages(all, scan, expected);
    // svscan supervises meanwhile
    await restarts(`${dir}/other`);
    assertEquals(statusPid(`${dir}/hosted/log`), scan.pid);
    // space again: everything arrives (after the 5-second pause)
    Deno.removeSync(`${fs}/filler`);
    for (const f of all) await everyLine(`${fs}/${f.name}`, f.name, N, 20_000);
    sameMessages(all, scan, expected);
    assertEquals(scan.status, undefined, "svscan runs");
  },
);

faultTest(
  "svscan hosted faults: a failing processor: multilog's warning, retried after 5 s, svscan goes on, every line once when it works",
  undefined,
  async (withDebian, { dir, start }) => {
    const N = 200;
    // fails until .fixed exists; then passes the old file on unchanged
    const proc = `'![ -e ${dir}/.fixed ] && exec cat; exit 3'`;
    const all = await formServices(dir, `t s2000 n100 ${proc} ./main`, N, withDebian);
    await service(dir, "other", HELLO, LOG);
    const scan = start();
    for (const f of all) {
      await waitFor(`${f.name} started`, () => stored(`${dir}/${f.name}/log/main`).length === 1);
    }
    assertEquals(statusPid(`${dir}/hosted/log`), scan.pid);
    await Deno.writeTextFile(`${dir}/.go`, "");
    const expected = "multilog: warning: processor failed in ./main, pausing";
    for (const f of all) {
      await waitFor(`${f.name}'s warning`, () => f.messages(scan).length > 0, 15_000);
    }
    sameMessages(all, scan, expected);
    // svscan supervises and the other hosted logger logs meanwhile
    await restarts(`${dir}/other`);
    await waitFor("other's second hello", () => stored(`${dir}/other/log/main`).length === 2);
    await Deno.writeTextFile(`${dir}/.fixed`, "");
    for (const f of all) {
      const main = `${dir}/${f.name}/log/main`;
      await everyLine(main, f.name, N, 20_000);
      assert(!exists(`${main}/previous`), `${f.name}: previous left`);
    }
    sameMessages(all, scan, expected);
    assertEquals(scan.status, undefined, "svscan runs");
  },
);

Deno.test("svscan hosted faults: a hanging processor blocks its logger only: svscan supervises, the others log", () =>
  withScan(async ({ dir, start }) => {
    const N = 200;
    const proc = `'!while [ ! -e ${dir}/.go ]; do sleep 0.05; done; exec cat'`;
    await service(
      dir,
      "hung",
      writer("hung", N, dir),
      `#!/bin/sh\nexec multilog t s2000 ${proc} ./main\n`,
    );
    await service(dir, "other", HELLO, LOG);
    const scan = start();
    const log = `${dir}/hung/log`;
    // the first rotation: current became previous, the processor runs and does not end
    await waitFor("the processor runs", () => exists(`${log}/main/previous`), 15_000);
    assertEquals(statusPid(log), scan.pid);
    await restarts(`${dir}/other`);
    await waitFor("other's second hello", () => stored(`${dir}/other/log/main`).length === 2);
    await restartsHosted(`${dir}/other/log`, scan.pid); // another hosted logger ends, starts
    await restarts(`${dir}/other`);
    await waitFor("other's third hello", () => stored(`${dir}/other/log/main`).length === 3);
    // the hung logger takes control letters: a rotation and a TERM wait for the processor
    await svc(["-a"], log);
    await svc(["-t"], log);
    const st = await run(prog("svstat"), [log]);
    assert(st.stdout.startsWith(`${log}: up (pid ${scan.pid}) `), st.stdout);
    await Deno.writeTextFile(`${dir}/.go`, "");
    await everyLine(`${log}/main`, "hung", N, 20_000);
    await waitFor("the logger back", () => statusPid(log) === scan.pid);
    assertEquals(multilogLines(scan.err), []);
    assertEquals(scan.status, undefined, "svscan runs");
  }));

const noSlowDisk = slowDiskMissing();

/**
 * A hosted-logger test on a {@linkcode SlowDisk} mounted at `DIR/.slow` (reported as ignored
 * when this machine cannot make one). The disk's limits are lifted before the processes are
 * killed, and it is detached at the end.
 */
function slowDiskTest(
  name: string,
  fn: (t: Tree, disk: SlowDisk) => Promise<void>,
  fs = "ext2",
): void {
  Deno.test({
    name,
    ignore: noSlowDisk !== undefined,
    fn: async () => {
      let disk: SlowDisk | undefined;
      await withScan(async (t) => {
        const made = SlowDisk.make(`${t.dir}/.img`, `${t.dir}/.slow`, 16, fs);
        if (typeof made === "string") throw new Error(made);
        disk = made;
        t.defer(() => made.lift());
        await fn(t, made);
      }).finally(() => disk?.close());
    },
  });
}

/** A logger whose rotation's fsync is held, another service and logger beside it. */
async function heldFsync({ dir, start }: Tree, disk: SlowDisk): Promise<void> {
  const N = 300;
  Deno.mkdirSync(`${disk.mnt}/main`);
  // a neighbour logging into the same disk all along (no rotation: it never waits for it)
  Deno.mkdirSync(`${disk.mnt}/busy`);
  await service(
    dir,
    "busy",
    '#!/bin/sh\ni=0\nwhile [ ! -e ../.stop ]; do i=$((i+1)); echo "busy $i"; sleep 0.01; done\necho "busy end"\nexec sleep 1000\n',
    LOG,
  );
  Deno.symlinkSync(`${disk.mnt}/busy`, `${dir}/busy/log/main`);
  await service(
    dir,
    "slow",
    writer("slow", N, `${dir}/.go`),
    "#!/bin/sh\nexec multilog t s3000 ./main\n",
  );
  Deno.symlinkSync(`${disk.mnt}/main`, `${dir}/slow/log/main`);
  await service(dir, "other", HELLO, LOG);
  const scan = start();
  const main = `${dir}/slow/log/main`;
  await waitFor("slow started", () => stored(main).length === 1);
  assertEquals(statusPid(`${dir}/slow/log`), scan.pid);
  disk.hold();
  await Deno.writeTextFile(`${dir}/.go`, "");
  // a rotation's fsync is in the kernel, held: a thread of svscan waits in D state
  await waitFor("an fsync held", () => blocked(scan.pid) > 0, 15_000);
  await restarts(`${dir}/other`);
  await waitFor("other's second hello", () => stored(`${dir}/other/log/main`).length === 2);
  await restartsHosted(`${dir}/other/log`, scan.pid);
  await restarts(`${dir}/other`);
  await waitFor("other's third hello", () => stored(`${dir}/other/log/main`).length === 3);
  // past a journal commit interval (5 s) with the neighbour writing: svscan still answers
  const busy = `${dir}/busy/log/main`;
  const logged = stored(busy).length;
  for (let k = 0; k < 3; k++) {
    await new Promise((r) => setTimeout(r, 2000));
    await restarts(`${dir}/other`);
  }
  assert(stored(busy).length > logged + 100, "the neighbour logs");
  assert(blocked(scan.pid) > 0, "the fsync is still held");
  disk.lift();
  await everyLine(main, "slow", N, 30_000);
  await Deno.writeTextFile(`${dir}/.stop`, "");
  await waitFor("busy end", () => stored(busy).at(-1) === "busy end");
  const nums = stored(busy).slice(0, -1);
  assertEquals(nums, nums.map((_, i) => `busy ${i + 1}`));
  assertEquals(multilogLines(scan.err), []);
  assertEquals(scan.status, undefined, "svscan runs");
}

slowDiskTest(
  "svscan hosted faults: a log directory whose fsync does not return: svscan supervises, the others log; every line once when the disk comes back",
  heldFsync,
);

slowDiskTest(
  "svscan hosted faults: the same on ext4 (a journal that cannot commit)",
  heldFsync,
  "ext4",
);

slowDiskTest(
  "svscan hosted faults: 40 hosted loggers rotating into a held disk at once (svc -a): svscan supervises; every line rotated once when it comes back",
  async ({ dir, start }, disk) => {
    // more loggers than the runtime's pool has threads for blocking calls (32 here)
    const N = 40;
    const logs: string[] = [];
    for (let i = 0; i < N; i++) {
      Deno.mkdirSync(`${disk.mnt}/s${i}`);
      await service(dir, `s${i}`, `#!/bin/sh\necho "s${i} hello"\nexec sleep 1000\n`, LOG);
      Deno.symlinkSync(`${disk.mnt}/s${i}`, `${dir}/s${i}/log/main`);
      logs.push(`${dir}/s${i}/log`);
    }
    await service(dir, "other", HELLO, LOG);
    const scan = start();
    for (let i = 0; i < N; i++) {
      await waitFor(`s${i} logged`, () => stored(`${logs[i]}/main`).length === 1, 30_000);
    }
    disk.hold();
    await svc(["-a"], ...logs); // every one rotates: an fsync each, all held
    await waitFor("fsyncs held", () => blocked(scan.pid) > 0, 15_000);
    await restarts(`${dir}/other`);
    await waitFor("other's second hello", () => stored(`${dir}/other/log/main`).length === 2);
    await restartsHosted(`${dir}/other/log`, scan.pid);
    disk.lift();
    for (let i = 0; i < N; i++) {
      const main = `${logs[i]}/main`;
      await waitFor(`s${i} rotated`, () => oldFiles(main).length === 1, 30_000);
      assertEquals(stored(main), [`s${i} hello`]);
      assertEquals(readOr(`${main}/current`), "");
    }
    assertEquals(multilogLines(scan.err), []);
    assertEquals(scan.status, undefined, "svscan runs");
  },
);

/** The `@...` files of a log directory. */
function oldFiles(main: string): string[] {
  try {
    return [...Deno.readDirSync(main)].map((e) => e.name).filter((n) => n.startsWith("@"));
  } catch {
    return [];
  }
}

/** How many threads of process `pid` sleep uninterruptibly (state D: waiting for the disk). */
function blocked(pid: number): number {
  let n = 0;
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const s = readOr(`/proc/${pid}/task/${t.name}/stat`);
      if (s.slice(s.lastIndexOf(")") + 2).startsWith("D")) n++;
    }
  } catch {
    return 0;
  }
  return n;
}

faultTest(
  "svscan hosted faults: a log directory that is a file, a dangling symlink, read-only: multilog's fatal message, retried; lines wait",
  canTmpfs ? undefined : "cannot mount a tmpfs here",
  async (withDebian, { dir, start, defer }) => {
    const ro = `${dir}/.ro`;
    assert(mountTmpfs(ro, "64k"), "mount tmpfs");
    defer(() => unmount(ro));
    const cases: Record<string, [(main: string) => void, string]> = {
      file: [
        (main) => Deno.writeTextFileSync(main, "not a directory\n"),
        "multilog: fatal: unable to open directory ./main: not a directory",
      ],
      dangling: [
        (main) => Deno.symlinkSync(`${dir}/.nowhere/main`, main),
        "multilog: fatal: unable to open directory ./main: file does not exist",
      ],
      readonly: [
        (main) => Deno.symlinkSync(ro, main),
        "multilog: fatal: unable to lock directory ./main: read-only file system",
      ],
    };
    const all: [string, Form, string][] = [];
    for (const [c, [make, expected]] of Object.entries(cases)) {
      for (const f of forms(dir, "t ./main", withDebian)) {
        const name = `${c}-${f.name}`;
        const g = { ...f, log: f.log.replace(`.${f.name}.err`, `.${name}.err`) };
        g.messages = f.name === "hosted"
          ? () => []
          : () => multilogLines(readOr(`${dir}/.${name}.err`));
        await service(dir, name, "#!/bin/sh\necho hello\nexec sleep 1000\n", g.log);
        make(`${dir}/${name}/log/main`);
        all.push([name, g, expected]);
      }
    }
    const rc = await run("mount", ["-o", "remount,ro", ro]);
    assertEquals(rc.code, 0, rc.stderr);
    await service(dir, "other", HELLO, LOG);
    const scan = start();
    const hostedExpected = Object.values(cases).map(([, e]) => e).sort();
    await waitFor("the hosted loggers' messages", () => {
      const m = new Set(multilogLines(scan.err));
      return hostedExpected.every((e) => m.has(e));
    }, 15_000);
    assertEquals([...new Set(multilogLines(scan.err))].sort(), hostedExpected);
    for (const [name, g, expected] of all) {
      if (!name.endsWith("-hosted")) {
        await waitFor(`${name}'s message`, () => g.messages(scan).length > 0);
        assertEquals([...new Set(g.messages(scan))], [expected], name);
      }
    }
    // supervision goes on; each failing logger is retried (more messages)
    await restarts(`${dir}/other`);
    await waitFor("other's second hello", () => stored(`${dir}/other/log/main`).length === 2);
    const count = multilogLines(scan.err).length;
    await waitFor("a retry", () => multilogLines(scan.err).length > count, 5000);
    // fixed: the line that waited in the pipe arrives, once
    for (const [name] of all) {
      const main = `${dir}/${name}/log/main`;
      Deno.removeSync(main);
      Deno.mkdirSync(main);
    }
    for (const [name] of all) {
      const main = `${dir}/${name}/log/main`;
      await waitFor(`${name}'s line`, () => stored(main).length > 0, 15_000);
      assertEquals(stored(main), ["hello"], name);
    }
    assertEquals(statusPid(`${dir}/file-hosted/log`), scan.pid);
    assertEquals(scan.status, undefined, "svscan runs");
  },
);

Deno.test({
  name:
    "svscan hosted faults: Debian's multilog, named by path or first in svscan's PATH, runs as a process",
  ignore: debian("multilog") === undefined,
  fn: () =>
    withScan(async ({ dir, start }) => {
      const deb = debian("multilog")!;
      await service(dir, "bypath", HELLO, `#!/bin/sh\nexec ${deb} t ./main\n`);
      await service(dir, "bypath2", HELLO, LOG);
      const bin = prog("svscan").replace(/\/svscan$/, "");
      // /usr/bin first: `multilog` is Debian's for every log/run, svc ours from `bin`
      const scan = start({ path: `${deb.replace(/\/multilog$/, "")}:${bin}:/bin` });
      for (const n of ["bypath", "bypath2"]) {
        const log = `${dir}/${n}/log`;
        await waitFor(`${n} logged`, () => stored(`${log}/main`).length === 1);
        const pid = statusPid(log);
        assert(pid > 0 && pid !== scan.pid, `${n}: a process`);
        assertEquals(Deno.readLinkSync(`/proc/${pid}/exe`), Deno.realPathSync(deb), n);
      }
      await restarts(`${dir}/bypath`);
      await waitFor("two lines", () => stored(`${dir}/bypath/log/main`).length === 2);
    }),
});

faultTest(
  "svscan hosted faults: a processor killed by a signal: multilog's two warnings, every line once",
  undefined,
  async (withDebian, { dir, start }) => {
    const N = 100;
    // killed on its first run only
    const proc = `'!if [ -e ../.crashed ]; then exec cat; fi; : > ../.crashed; kill -9 $$'`;
    const all = await formServices(dir, `t s2000 n100 ${proc} ./main`, N, withDebian);
    const scan = start();
    for (const f of all) {
      await waitFor(`${f.name} started`, () => stored(`${dir}/${f.name}/log/main`).length === 1);
    }
    await Deno.writeTextFile(`${dir}/.go`, "");
    for (const f of all) await everyLine(`${dir}/${f.name}/log/main`, f.name, N, 30_000);
    const expected = [
      "multilog: warning: processor crashed in ./main, pausing: file does not exist",
      "multilog: warning: processor failed in ./main, pausing",
    ];
    for (const f of all) assertEquals(f.messages(scan), expected, f.name);
  },
);
