/**
 * `supervise DIR` with real processes, FIFOs and files: start-up layout, every control byte,
 * bad input (spec §1), and interop with Debian's svc/svstat/supervise (skipped without them).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  alive,
  asleep,
  debian,
  haveDebian,
  maskStatus,
  prog,
  run,
  scratch,
  script,
  waitFor,
} from "./util.ts";
import { cstr, errno, libc, O_CLOEXEC, O_NONBLOCK, O_WRONLY } from "../lib/libc.ts";
import { Reactor } from "../lib/reactor.ts";
import { decodeStatus, type RawStatus } from "../lib/status.ts";
import { ENXIO } from "../lib/errors.ts";

/** A running supervise (ours or Debian's) with its stderr going to a file. */
interface Sup {
  pid: number;
  proc: Deno.ChildProcess;
  errFile: string;
  /** pids of ./run seen in the status file, killed at cleanup. */
  seen: Set<number>;
}

const running: Sup[] = [];

/** Start `BIN DIR` from `cwd` (stderr to a file). `pre` is shell run before the exec. */
function startSup(
  cwd: string,
  dir: string,
  opts: { bin?: string; pre?: string; wrap?: string } = {},
): Sup {
  const errFile = `${cwd}/.sup-${dir.replace(/\W/g, "_")}-${running.length}.err`;
  const proc = new Deno.Command("sh", {
    args: [
      "-c",
      `${opts.pre ?? ""}\nexec ${opts.wrap ?? ""} "$0" "$1" 2>"$2"`,
      opts.bin ?? prog("supervise"),
      dir,
      errFile,
    ],
    cwd,
    env: { RUST_BACKTRACE: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const s = { pid: proc.pid, proc, errFile, seen: new Set<number>() };
  running.push(s);
  return s;
}

/** Kill a supervise and every ./run pid it was seen with. */
async function stop(s: Sup): Promise<Deno.CommandStatus> {
  for (const pid of [s.pid, ...s.seen]) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  const st = await s.proc.status;
  running.splice(running.indexOf(s), 1);
  return st;
}

/** Scratch roots of this file: any process still working in one at cleanup is ours. */
const roots: string[] = [];

async function root(prefix = "dt-sup-"): Promise<string> {
  const r = await scratch(prefix);
  roots.push(r);
  return r;
}

async function cleanup(): Promise<void> {
  for (const s of [...running]) await stop(s);
  // safety net: a ./run started after its pid was last read
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cwd = Deno.readLinkSync(`/proc/${e.name}/cwd`);
      if (roots.some((r) => cwd === r || cwd.startsWith(`${r}/`))) {
        Deno.kill(Number(e.name), "SIGKILL");
      }
    } catch { /* gone or not ours to read */ }
  }
}

function errText(s: Sup): string {
  try {
    return Deno.readTextFileSync(s.errFile);
  } catch {
    return "";
  }
}

function status(dir: string, s?: Sup): RawStatus | undefined {
  try {
    const st = decodeStatus(Deno.readFileSync(`${dir}/supervise/status`));
    if (st && st.pid && s) s.seen.add(st.pid);
    return st;
  } catch {
    return undefined;
  }
}

/** What svok does: can the ok FIFO be opened for writing (a supervise holds it)? */
function okRunning(dir: string): boolean {
  const fd = libc().open(cstr(`${dir}/supervise/ok`), O_WRONLY | O_NONBLOCK, 0);
  if (fd >= 0) {
    libc().close(fd);
    return true;
  }
  const e = errno();
  if (e !== ENXIO && e !== 2) throw new Error(`open ok: errno ${e}`);
  return false;
}

/** pids of processes whose cwd is `dir`. */
function runningIn(dir: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/cwd`) === dir) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** What svc does: write the bytes to the control FIFO. */
function control(dir: string, bytes: string | Uint8Array): void {
  const fd = libc().open(cstr(`${dir}/supervise/control`), O_WRONLY | O_NONBLOCK, 0);
  if (fd < 0) throw new Error(`open control: errno ${errno()}`);
  const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const n = Number(libc().write(fd, b, BigInt(b.length)));
  libc().close(fd);
  if (n !== b.length) throw new Error(`short control write ${n}`);
}

async function upWith(dir: string, s: Sup, pred: (st: RawStatus) => boolean = () => true) {
  return await waitFor(`${dir} up`, () => {
    const st = status(dir, s);
    return st && st.pid !== 0 && alive(st.pid) && pred(st) ? st : undefined;
  });
}

function procStat(pid: number): string[] {
  const t = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return t.slice(t.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
}

function cpuTicks(pid: number): number {
  const f = procStat(pid);
  return Number(f[11]) + Number(f[12]); // utime, stime
}

async function svcDir(body = "#!/bin/sh\nexec sleep 100000\n", name = "svc") {
  const r = await root();
  await Deno.mkdir(`${r}/${name}`);
  await script(`${r}/${name}/run`, body);
  return { root: r, dir: `${r}/${name}` };
}

const SLEEP = "#!/bin/sh\nexec sleep 100000\n";

// ------------------------------------------------------------------ usage and start-up

Deno.test("usage: no dir or an extra argument, exit 100", async () => {
  for (const args of [[], ["a", "b"]]) {
    const r = await run(prog("supervise"), args);
    assertEquals([r.code, r.stdout, r.stderr], [100, "", "supervise: usage: supervise dir\n"]);
  }
});

Deno.test("missing or non-directory DIR: unable to chdir, 111", async () => {
  const root = await scratch();
  await Deno.writeTextFile(`${root}/file`, "");
  const cases: [string, string][] = [
    ["nonexistent", "file does not exist"],
    ["file", "not a directory"],
  ];
  for (const [d, err] of cases) {
    const r = await run(prog("supervise"), [d], { cwd: root });
    assertEquals([r.code, r.stderr], [111, `supervise: fatal: unable to chdir to ${d}: ${err}\n`]);
  }
});

Deno.test("supervise/ is a regular file: unable to acquire lock, not a directory", async () => {
  const { root } = await svcDir();
  await Deno.writeTextFile(`${root}/svc/supervise`, "");
  const r = await run(prog("supervise"), ["svc"], { cwd: root });
  assertEquals(r.code, 111);
  assertEquals(
    r.stderr,
    "supervise: fatal: unable to acquire svc/supervise/lock: not a directory\n",
  );
});

Deno.test("start-up layout, modes, and a clean ./run (cwd, fds, signals, process group)", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc", { pre: "exec 7</dev/null" }); // fd 7 leaked to supervise
  try {
    const st = await upWith(dir, s);
    const mode = (p: string) => (Deno.lstatSync(`${dir}/supervise${p}`).mode! & 0o7777);
    assertEquals(mode(""), 0o700);
    assertEquals([mode("/lock"), Deno.statSync(`${dir}/supervise/lock`).size], [0o600, 0]);
    for (const f of ["control", "ok"]) {
      assert(Deno.lstatSync(`${dir}/supervise/${f}`).isFifo, f);
      assertEquals(mode(`/${f}`), 0o600);
    }
    assertEquals([mode("/status"), Deno.statSync(`${dir}/supervise/status`).size], [0o644, 18]);
    assertEquals(
      [...Deno.readDirSync(`${dir}/supervise`)].map((e) => e.name).sort(),
      ["control", "lock", "ok", "status"],
    );
    assertEquals([st.pausedByte, st.wantByte], [0, "u".charCodeAt(0)]);
    assertEquals(Deno.readLinkSync(`/proc/${st.pid}/cwd`), dir);
    // ./run is `sh` until it execs sleep
    await waitFor(
      "exec sleep",
      () => Deno.readLinkSync(`/proc/${st.pid}/exe`).endsWith("/sleep") && asleep(st.pid),
    );
    // only 0, 1, 2: fd 7 that supervise inherited is not passed on (an extension of 0.76)
    assertEquals([...Deno.readDirSync(`/proc/${st.pid}/fd`)].map((e) => e.name).sort(), [
      "0",
      "1",
      "2",
    ]);
    assertEquals(Deno.readLinkSync(`/proc/${st.pid}/fd/2`), s.errFile);
    const ps = Deno.readTextFileSync(`/proc/${st.pid}/status`);
    assertMatch(ps, /\nSigBlk:\t0000000000000000\n/);
    assertMatch(ps, /\nSigIgn:\t0000000000000000\n/); // SIGPIPE default again
    // same process group and session as supervise (no setsid)
    assertEquals(procStat(st.pid).slice(2, 4), procStat(s.pid).slice(2, 4));
    assert(okRunning(dir));
    // stamp is TAI64N 2^62+10+unix with nanoseconds ending in 500
    assertEquals(st.stamp.sec >> 62n, 1n);
    assertEquals(st.stamp.nano % 1000, 500);
  } finally {
    await cleanup();
  }
});

Deno.test("a second supervise on the same directory: lock busy, files untouched", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc");
  try {
    await upWith(dir, s);
    const before = Deno.readFileSync(`${dir}/supervise/status`);
    const r = await run(prog("supervise"), ["svc"], { cwd: root });
    assertEquals(r.code, 111);
    assertEquals(
      r.stderr,
      "supervise: fatal: unable to acquire svc/supervise/lock: temporary failure\n",
    );
    assertEquals(Deno.readFileSync(`${dir}/supervise/status`), before);
    assert(alive(s.pid));
  } finally {
    await cleanup();
  }
});

Deno.test("Debian patch: a dangling supervise symlink's target is created", async () => {
  const { root, dir } = await svcDir();
  await Deno.symlink(`${root}/elsewhere`, `${dir}/supervise`);
  const s = startSup(root, "svc");
  try {
    await upWith(dir, s);
    assert(Deno.statSync(`${root}/elsewhere/lock`).isFile);
    assertEquals(Deno.statSync(`${root}/elsewhere`).mode! & 0o777, 0o700);
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ control bytes

Deno.test("down file: not started; u starts; d stops; x exits 0", async () => {
  const { root, dir } = await svcDir();
  await Deno.writeTextFile(`${dir}/down`, "");
  const s = startSup(root, "svc");
  try {
    await waitFor("ok", () => okRunning(dir));
    const st = await waitFor("status", () => status(dir, s));
    assertEquals([st.pid, st.wantByte], [0, "d".charCodeAt(0)]);
    control(dir, "u");
    const up = await upWith(dir, s);
    assertEquals(up.wantByte, "u".charCodeAt(0));
    control(dir, "d");
    await waitFor("down", () => status(dir, s)?.pid === 0 && !alive(up.pid));
    assertEquals(status(dir)!.wantByte, "d".charCodeAt(0));
    control(dir, "x");
    const code = await s.proc.status;
    assertEquals(code.code, 0);
    assert(!okRunning(dir));
    running.splice(running.indexOf(s), 1);
  } finally {
    await cleanup();
  }
});

Deno.test("t and k restart the service; o runs once; x waits for the child", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    control(dir, "t");
    const b = await upWith(dir, s, (st) => st.pid !== a.pid);
    control(dir, "k");
    const c = await upWith(dir, s, (st) => st.pid !== b.pid);
    control(dir, "o");
    await waitFor("want 0", () => status(dir, s)?.wantByte === 0);
    control(dir, "t");
    await waitFor("down after once", () => status(dir, s)?.pid === 0);
    assert(!alive(c.pid));
    assertEquals(status(dir)!.wantByte, 0);
    control(dir, "u");
    const d = await upWith(dir, s);
    control(dir, "x");
    // x: supervise stays while the child runs and exits once it is gone (no restart)
    await waitFor("x recorded", () => status(dir, s)?.pid === d.pid);
    assert(alive(s.pid));
    control(dir, "t");
    const code = await s.proc.status;
    assertEquals(code.code, 0);
    running.splice(running.indexOf(s), 1);
    assertEquals(status(dir)!.pid, 0);
    assert(!alive(d.pid));
  } finally {
    await cleanup();
  }
});

Deno.test("p pauses (SIGSTOP, state T), c continues, h a i reach the child", async () => {
  const { root, dir } = await svcDir(
    "#!/bin/sh\n" +
      'for s in HUP ALRM INT; do trap "echo $s >> sig.log" $s; done\n' +
      ": > ready\n" +
      "while :; do sleep 0.05; done\n",
  );
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    await waitFor("traps set", () => Deno.statSync(`${dir}/ready`).isFile);
    control(dir, "p");
    await waitFor("paused", () => status(dir, s)?.pausedByte === 1);
    await waitFor("state T", () => procStat(a.pid)[0] === "T");
    control(dir, "c");
    await waitFor("continued", () => status(dir, s)?.pausedByte === 0);
    await waitFor("running", () => procStat(a.pid)[0] !== "T");
    for (const [byte, name] of [["h", "HUP"], ["a", "ALRM"], ["i", "INT"]]) {
      control(dir, byte);
      await waitFor(`trap ${name}`, () => {
        try {
          return Deno.readTextFileSync(`${dir}/sig.log`).split("\n").includes(name);
        } catch {
          return false;
        }
      });
    }
    assertEquals(Deno.readTextFileSync(`${dir}/sig.log`), "HUP\nALRM\nINT\n");
    assertEquals(status(dir)!.pid, a.pid); // trapped: never restarted
  } finally {
    await cleanup();
  }
});

Deno.test("junk bytes flooding the control FIFO are ignored, commands after them work", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    const junk = new Uint8Array(256 * 1024);
    const commands = new Set([..."udopchaitkx"].map((c) => c.charCodeAt(0)));
    const pool = [...Array(256).keys()].filter((b) => !commands.has(b));
    junk.forEach((_, i) => (junk[i] = pool[i % pool.length]));
    const f = await Deno.open(`${dir}/supervise/control`, { write: true });
    for (let off = 0; off < junk.length;) off += await f.write(junk.subarray(off));
    await f.write(new TextEncoder().encode("p"));
    f.close();
    const st = await waitFor("paused", () => {
      const st = status(dir, s);
      return st?.pausedByte === 1 ? st : undefined;
    });
    assertEquals([st.pid, st.wantByte], [a.pid, "u".charCodeAt(0)]);
    // and supervise is idle again (not spinning on the FIFO)
    const t0 = cpuTicks(s.pid);
    control(dir, "c");
    await waitFor("continued", () => status(dir, s)?.pausedByte === 0);
    await waitFor("idle", async () => {
      const before = cpuTicks(s.pid);
      await new Promise((r) => setTimeout(r, 300));
      return cpuTicks(s.pid) - before <= 3;
    });
    assert(cpuTicks(s.pid) - t0 >= 0);
    assertEquals(errText(s), "");
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ bad ./run

Deno.test("missing, non-executable and directory run: exact message once per attempt", async () => {
  const base = await root();
  const cases: [string, (d: string) => Promise<void>, string][] = [
    ["missing", async () => {}, "file does not exist"],
    ["noexec", (d) => Deno.writeTextFile(`${d}/run`, "#!/bin/sh\necho hi\n"), "access denied"],
    ["isdir", (d) => Deno.mkdir(`${d}/run`), "access denied"],
  ];
  try {
    const sups: [string, Sup, string][] = [];
    for (const [name, make, err] of cases) {
      await Deno.mkdir(`${base}/${name}`);
      await make(`${base}/${name}`);
      sups.push([name, startSup(base, name), err]);
    }
    for (const [name, s, err] of sups) {
      const line = `supervise: fatal: unable to start ${name}/run: ${err}\n`;
      const text = await waitFor(`two attempts for ${name}`, () => {
        const t = errText(s);
        return t.split(line).length - 1 >= 2 ? t : undefined;
      });
      // nothing but that line, repeated
      assertEquals(text.replaceAll(line, ""), "");
      const st = status(`${base}/${name}`)!;
      assertEquals([st.pid, st.wantByte], [0, "u".charCodeAt(0)]);
      assert(alive(s.pid));
    }
  } finally {
    await cleanup();
  }
});

Deno.test("run that exits at once: restarted, starts >= 1 s apart, supervise stays idle", async () => {
  // the kernel's start time of each ./run (clock ticks since boot, field 22 of stat)
  const { root, dir } = await svcDir("#!/bin/sh\ncut -d' ' -f22 /proc/$$/stat >> starts\n");
  const s = startSup(root, "svc");
  const starts = () => {
    try {
      return Deno.readTextFileSync(`${dir}/starts`).trim().split("\n").map(Number);
    } catch {
      return [];
    }
  };
  try {
    await waitFor("2 starts", () => starts().length >= 2);
    const cpu0 = cpuTicks(s.pid);
    const n0 = starts().length;
    await waitFor("2 more starts", () => starts().length >= n0 + 2);
    const cpu = cpuTicks(s.pid) - cpu0;
    const t = starts();
    for (let i = 1; i < t.length; i++) {
      // the throttle is a lower bound: a slow machine only makes the gaps longer
      // (ticks are 10 ms: 99 allows for the resolution)
      assert(t[i] - t[i - 1] >= 99, `starts ${i - 1} and ${i}: ${t[i] - t[i - 1]} ticks`);
    }
    // >= 2 s of wall time for those starts; a busy loop would burn ~100 ticks a second
    assert(cpu < 60, `supervise used ${cpu} ticks over two restarts`);
    assertEquals(errText(s), "");
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ hostile surroundings

Deno.test("status.new cannot be created: warning on every status write, keeps running", async () => {
  const { root, dir } = await svcDir();
  await Deno.mkdir(`${dir}/supervise/status.new`, { recursive: true }); // open gives EISDIR
  const s = startSup(root, "svc");
  try {
    const line = "supervise: warning: unable to open svc/supervise/status.new: is a directory\n";
    await waitFor("ok", () => okRunning(dir));
    // start-up writes (step 8, start of ./run, loop entry): at least two warnings
    await waitFor("warnings", () => errText(s).split(line).length - 1 >= 2);
    const n = errText(s).split(line).length - 1;
    control(dir, "p");
    await waitFor("one more", () => errText(s).split(line).length - 1 === n + 1);
    assertEquals(errText(s).replaceAll(line, ""), "");
    assert(alive(s.pid));
  } finally {
    await cleanup();
  }
});

const haveSetpriv = (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile && Deno.uid() === 0;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "read-only supervise/ (non-root user): access denied on every status write",
  ignore: !haveSetpriv, // needs root to become nobody
  fn: async () => {
    const { root, dir } = await svcDir();
    const denoDir = await scratch("dt-denodir-");
    await run("chown", ["-R", "nobody", root, denoDir]);
    const wrap = `setpriv --reuid=nobody --regid=nogroup --clear-groups env DENO_DIR=${denoDir}`;
    // nobody must reach the launcher (temp dirs are 0700)
    await Deno.chmod(prog("supervise").replace(/\/supervise$/, ""), 0o755);
    const first = startSup(root, "svc");
    try {
      // create supervise/ as root first, then hand it to nobody and make it read-only
      await upWith(dir, first);
      await stop(first);
      await run("chown", ["-R", "nobody", `${dir}/supervise`]);
      await Deno.chmod(`${dir}/supervise`, 0o500);
      const s = startSup(root, "svc", { wrap });
      const line = "supervise: warning: unable to open svc/supervise/status.new: access denied\n";
      const warned = () => errText(s).split(line).length - 1;
      // two status writes before any control byte: at loop entry, then for the start of ./run
      // (./run showing in /proc is not enough: the spawn's child is there before supervise
      // gets to its status write)
      await waitFor("up as nobody", () => warned() >= 2, 30_000);
      await waitFor("./run as nobody", () => runningIn(dir).some((p) => p !== s.pid));
      const n = warned();
      assertEquals(n, 2);
      control(dir, "h");
      control(dir, "p");
      await waitFor("warning for p", () => warned() === n + 1);
      assertEquals(errText(s).replaceAll(line, ""), "");
    } finally {
      await cleanup();
    }
  },
});

Deno.test("control is a regular file: bytes appended to it are read, no busy loop", async () => {
  const { root, dir } = await svcDir();
  await Deno.mkdir(`${dir}/supervise`);
  await Deno.writeTextFile(`${dir}/supervise/control`, "");
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    await Deno.writeTextFile(`${dir}/supervise/control`, "zd", { append: true });
    await waitFor("down", () => status(dir, s)?.pid === 0 && !alive(a.pid));
    await waitFor("idle", async () => {
      const before = cpuTicks(s.pid);
      await new Promise((r) => setTimeout(r, 300));
      return cpuTicks(s.pid) - before <= 3;
    });
    assertEquals(errText(s), "");
  } finally {
    await cleanup();
  }
});

Deno.test("service directory removed while running: supervise keeps going, warns", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    // ./run must have read itself first: a shell still starting would complain about its cwd
    await waitFor("./run at sleep", () => asleep(a.pid));
    await Deno.remove(dir, { recursive: true });
    Deno.kill(a.pid, "SIGKILL");
    const start = "supervise: fatal: unable to start svc/run: file does not exist\n";
    const open =
      "supervise: warning: unable to open svc/supervise/status.new: file does not exist\n";
    const text = await waitFor("two restart attempts", () => {
      const t = errText(s);
      return t.split(start).length - 1 >= 2 ? t : undefined;
    });
    assertEquals(text.replaceAll(start, "").replaceAll(open, ""), "");
    assert(text.includes(open));
    assert(alive(s.pid));
  } finally {
    await cleanup();
  }
});

Deno.test("SIGTERM kills supervise (143) and leaves ./run running", async () => {
  const { root, dir } = await svcDir();
  const s = startSup(root, "svc");
  try {
    const a = await upWith(dir, s);
    Deno.kill(s.pid, "SIGTERM");
    const st = await s.proc.status;
    assertEquals([st.signal, st.code], ["SIGTERM", 143]);
    running.splice(running.indexOf(s), 1);
    assert(alive(a.pid));
    assert(!okRunning(dir));
    Deno.kill(a.pid, "SIGKILL");
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ interop with Debian

/** Status bytes with the stamp and a nonzero pid masked, as hex. */
function maskedBytes(dir: string): string {
  const b = Deno.readFileSync(`${dir}/supervise/status`);
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0"));
  const pid = new DataView(b.buffer, b.byteOffset).getUint32(12, true);
  return [
    "S".repeat(24),
    pid ? "PPPPPPPP" : hex.slice(12, 16).join(""),
    hex.slice(16).join(" "),
  ].join(" ") + ` (${b.length} bytes)`;
}

Deno.test({
  name: "interop: Debian svc/svstat see our supervise exactly as Debian's in every state",
  ignore: !haveDebian || !debian("svc"),
  fn: async () => {
    const svc = debian("svc")!;
    const svstat = debian("svstat")!;
    const dirs = { deb: await root("dt-deb-"), our: await root("dt-our-") };
    const names = ["norm", "ndown", "stubborn"];
    for (const r of Object.values(dirs)) {
      for (const n of names) await Deno.mkdir(`${r}/${n}`);
      await script(`${r}/norm/run`, SLEEP);
      await script(`${r}/ndown/run`, SLEEP);
      await Deno.writeTextFile(`${r}/ndown/down`, "");
      await script(`${r}/stubborn/run`, "#!/bin/sh\ntrap '' TERM\nexec sleep 100000\n");
    }
    const sups = {
      deb: names.map((n) => startSup(dirs.deb, n, { bin: debian("supervise") })),
      our: names.map((n) => startSup(dirs.our, n)),
    };
    const view = async (which: "deb" | "our", n: string) => {
      const r = await run(svstat, [n], { cwd: dirs[which] });
      const v = maskStatus(r.stdout) + maskedBytes(`${dirs[which]}/${n}`);
      status(`${dirs[which]}/${n}`, sups[which][names.indexOf(n)]); // pids to clean up
      return v;
    };
    /** Apply svc options to both, wait until both report the same, return Debian's view. */
    const step = async (n: string, opts: string | undefined, expect: RegExp) => {
      if (opts) {
        for (const r of Object.values(dirs)) await run(svc, [opts, n], { cwd: r });
      }
      let last: string[] = [];
      try {
        await waitFor(`${n} after ${opts}`, async () => {
          last = [await view("deb", n), await view("our", n)];
          return last[0] === last[1] && expect.test(last[0]);
        }, 8000);
      } catch (e) {
        throw new Error(`${String(e)}\n deb: ${last[0]}\n our: ${last[1]}`);
      }
      return last[0];
    };
    try {
      await step("norm", undefined, /^norm: up \(pid P\) S seconds\n/);
      await step("norm", "-p", /^norm: up \(pid P\) S seconds, paused\n.* 01 75 /);
      await step("norm", "-c", /^norm: up \(pid P\) S seconds\n.* 00 75 /);
      await step("norm", "-d", /^norm: down S seconds, normally up\n.* 00000000 00 64 /);
      await step("ndown", undefined, /^ndown: down S seconds\n.* 00 64 /);
      await step("ndown", "-o", /^ndown: up \(pid P\) S seconds, normally down\n.* 00 00 /);
      await step("ndown", "-k", /^ndown: down S seconds\n.* 00000000 00 00 /);
      await step("ndown", "-u", /^ndown: up \(pid P\) S seconds, normally down\n.* 00 75 /);
      await step("stubborn", undefined, /^stubborn: up \(pid P\) S seconds\n/);
      // TERM ignored only once sh has run its trap and exec'd sleep
      for (const r of Object.values(dirs)) {
        await waitFor("stubborn sleeps", () => {
          const pid = status(`${r}/stubborn`)?.pid;
          return pid && Deno.readLinkSync(`/proc/${pid}/exe`).endsWith("/sleep");
        });
      }
      await step("stubborn", "-d", /^stubborn: up \(pid P\) S seconds, want down\n.* 00 64 /);
      await step(
        "stubborn",
        "-dp",
        /^stubborn: up \(pid P\) S seconds, paused, want down\n.* 01 64 /,
      );
      await step("stubborn", "-k", /^stubborn: down S seconds, normally up\n.* 00 64 /);
      await step("norm", "-dx", /^norm: supervise not running\n.* 00000000 00 64 /);
      const done = sups.our[0].proc.status;
      assertEquals((await done).code, 0);
    } finally {
      await cleanup();
    }
  },
});

// ------------------------------------------------------------------ the reactor underneath

Deno.test("reactor: 1200 pipes in one epoll set, only the written ones fire, threads bounded", async () => {
  const threads = () => [...Deno.readDirSync("/proc/self/task")].length;
  const r = new Reactor();
  const c = libc();
  const pipes: [number, number][] = [];
  const fired = new Map<number, number>();
  const buf = new Uint8Array(16);
  try {
    const before = threads();
    for (let i = 0; i < 1200; i++) {
      const fds = new Int32Array(2);
      assertEquals(c.pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
      pipes.push([fds[0], fds[1]]);
      assertEquals(
        r.watch(fds[0], () => {
          while (Number(c.read(fds[0], buf, 16n)) > 0) { /* drain */ }
          fired.set(i, (fired.get(i) ?? 0) + 1);
        }),
        0,
      );
    }
    assertEquals(r.size, 1200);
    const chosen = [0, 1, 7, 599, 600, 1000, 1199];
    for (const i of chosen) c.write(pipes[i][1], new Uint8Array([120]), 1n);
    await waitFor("callbacks", () => chosen.every((i) => fired.has(i)));
    // one more round after the batch: nothing else fires, nothing fires twice
    c.write(pipes[5][1], new Uint8Array([120]), 1n);
    await waitFor("pipe 5", () => fired.has(5));
    assertEquals([...fired.keys()].sort((a, b) => a - b), [...chosen, 5].sort((a, b) => a - b));
    assert([...fired.values()].every((n) => n === 1));
    // the whole set waits in one pool thread: no thread per descriptor
    assert(threads() - before <= 2, `threads ${before} -> ${threads()}`);
  } finally {
    for (const [rd, wr] of pipes) {
      r.unwatch(rd);
      c.close(rd);
      c.close(wr);
    }
    await r.idle();
    r.close();
  }
});

Deno.test("reactor: timers fire in deadline order, cancelled ones never", async () => {
  const r = new Reactor();
  const order: string[] = [];
  const t = performance.now();
  r.at(t + 30, () => order.push("c"));
  r.at(t + 10, () => order.push("a"));
  const x = r.at(t + 5, () => order.push("x"));
  r.at(t + 20, () => order.push("b"));
  r.at(t + 20, () => order.push("b2"));
  x.cancel();
  await waitFor("timers", () => order.length === 4);
  assertEquals(order, ["a", "b", "b2", "c"]);
  r.close();
});

Deno.test({
  name: "differential: start-up failures give Debian's exact message and exit code",
  ignore: !haveDebian,
  fn: async () => {
    const base = await root();
    await Deno.writeTextFile(`${base}/file`, "");
    await Deno.mkdir(`${base}/regsup`);
    await Deno.writeTextFile(`${base}/regsup/supervise`, "");
    await Deno.mkdir(`${base}/nested`);
    await Deno.symlink(`${base}/no/such/dir`, `${base}/nested/supervise`);
    await Deno.mkdir(`${base}/locked/supervise`, { recursive: true });
    await Deno.mkdir(`${base}/lockdir/supervise/lock`, { recursive: true });
    await Deno.mkdir(`${base}/downloop`);
    await Deno.symlink("down", `${base}/downloop/down`);
    const lock = await Deno.open(`${base}/locked/supervise/lock`, { create: true, write: true });
    await lock.lock(true);
    try {
      const cases = [
        [],
        ["a", "b"],
        ["missing"],
        ["file"],
        ["regsup"],
        ["nested"],
        [
          "locked",
        ],
        ["lockdir"],
        ["downloop"],
        [`${base}/missing`],
      ];
      for (const args of cases) {
        const ours = await run(prog("supervise"), args, { cwd: base });
        const deb = await run(debian("supervise")!, args, { cwd: base });
        assertEquals([ours.code, ours.stderr], [deb.code, deb.stderr], args.join(" "));
        assert(deb.code !== 0);
      }
    } finally {
      lock.close();
    }
  },
});

Deno.test("in-process Service (svscan's API): adopt a running pid, restart, dx, fds released", async () => {
  const { Service } = await import("../lib/service.ts");
  const { encodeStatus } = await import("../lib/status.ts");
  const { root: base, dir } = await svcDir();
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  const shared = (await import("../lib/reactor.ts")).reactor(); // its epoll fd + eventfd stay
  const before = fds();
  const old = new Deno.Command("sleep", { args: ["100000"] }).spawn();
  const lines: string[] = [];
  const stamp = { sec: 0x4000000060000000n, nano: 123500 };
  await Deno.mkdir(`${dir}/supervise`);
  await Deno.writeFile(
    `${dir}/supervise/status`,
    encodeStatus({ stamp, pid: old.pid, paused: false, want: "u" }),
  );
  let exited = 0;
  const svc = new Service("svc", {
    path: dir,
    log: (l) => lines.push(l),
    onExit: () => exited++,
  });
  try {
    svc.adopt(old.pid);
    assertEquals(svc.pid, old.pid);
    const st = status(dir)!;
    assertEquals([st.pid, st.stamp], [old.pid, stamp]); // its stamp kept
    old.kill("SIGKILL");
    await old.status;
    const next = await waitFor("restarted", () => {
      const p = status(dir)?.pid;
      return p && p !== old.pid && alive(p) ? p : undefined;
    });
    assertEquals(svc.pid, next);
    assertEquals(Deno.readLinkSync(`/proc/${next}/cwd`), dir);
    svc.control("dx");
    await svc.done;
    assertEquals(exited, 1);
    assert(!alive(next));
    assertEquals(status(dir)!.pid, 0);
    assertEquals(lines, []);
    assert(!okRunning(dir));
    assertEquals(fds(), before);
  } finally {
    svc.close();
    try {
      old.kill("SIGKILL");
    } catch { /* gone */ }
    await cleanup();
    await shared.idle();
  }
  void base;
});

Deno.test("in-process Service: env option is ./run's whole environment", async () => {
  const { Service } = await import("../lib/service.ts");
  const shared = (await import("../lib/reactor.ts")).reactor();
  const { dir } = await svcDir("#!/bin/sh\nenv > env.out\nexec sleep 100000\n");
  const env = ["PATH=/usr/bin:/bin", "SVC_TEST_ENV=one two"];
  const svc = new Service("svc", { path: dir, env });
  try {
    svc.start();
    const out = await waitFor("env written", () => {
      try {
        const t = Deno.readTextFileSync(`${dir}/env.out`);
        return t.includes("SVC_TEST_ENV") ? t : undefined;
      } catch {
        return undefined;
      }
    });
    const lines = out.trim().split("\n").filter((l) => !/^(PWD|SHLVL|_)=/.test(l)).sort();
    assertEquals(lines, env);
    svc.control("dx");
    await svc.done;
  } finally {
    svc.close();
    await cleanup();
    await shared.idle();
  }
});

Deno.test("in-process Service: start-up failures throw ServiceError with the exact line", async () => {
  const { Service, ServiceError } = await import("../lib/service.ts");
  const base = await root();
  await Deno.writeTextFile(`${base}/file`, "");
  await Deno.mkdir(`${base}/svc/supervise/lock`, { recursive: true });
  const cases: [string, string][] = [
    [`${base}/file`, "supervise: fatal: unable to chdir to log: not a directory\n"],
    [`${base}/nope`, "supervise: fatal: unable to chdir to log: file does not exist\n"],
    [`${base}/svc`, "supervise: fatal: unable to acquire log/supervise/lock: is a directory\n"],
  ];
  for (const [path, line] of cases) {
    const svc = new Service("log", { path });
    let caught: unknown;
    try {
      svc.start();
    } catch (e) {
      caught = e;
    }
    assert(caught instanceof ServiceError, path);
    assertEquals([caught.line, caught.code], [line, 111]);
    assert(svc.finished);
    await svc.done;
  }
});
