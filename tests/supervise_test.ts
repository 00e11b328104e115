/**
 * `supervise DIR` with real processes, FIFOs and files: start-up layout, every control byte,
 * bad input (spec §1), and interop with Debian's svc/svstat/supervise (ignored without them).
 * The reactor and the in-process Service have their own files (reactor_test, service_test).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { compare, differential, type Tree, tree } from "./fixtures.ts";
import {
  alive,
  asleep,
  maskStatus,
  okRunning,
  processesUnder,
  prog,
  readOr,
  readStatus,
  run,
  waitFor,
} from "./util.ts";
import { O_NONBLOCK, O_WRONLY } from "../lib/libc.ts";
import { encode } from "../lib/bytes.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";
import type { RawStatus } from "../lib/status.ts";
import { decodeHistory } from "../lib/history.ts";

/** A running supervise (ours or Debian's) with its stderr going to a file. */
interface Sup {
  pid: number;
  proc: Deno.ChildProcess;
  errFile: string;
}

let started = 0;

/**
 * Start `BIN DIR` in the tree (stderr to a file); stopped when the tree is disposed of, before
 * the tree kills the ./run processes left in it. `pre` is shell run before the exec.
 */
function startSup(
  t: Tree,
  dir: string,
  opts: { bin?: string; pre?: string; wrap?: string } = {},
): Sup {
  const errFile = t.path(`.sup-${dir.replace(/\W/g, "_")}-${started++}.err`);
  const proc = new Deno.Command("sh", {
    args: [
      "-c",
      `${opts.pre ?? ""}\nexec ${opts.wrap ?? ""} "$0" "$1" 2>"$2"`,
      opts.bin ?? prog("supervise"),
      dir,
      errFile,
    ],
    cwd: t.root,
    env: { RUST_BACKTRACE: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const s = { pid: proc.pid, proc, errFile };
  t.defer(async () => void await stop(s));
  return s;
}

/** Kill a supervise and wait for its exit. */
async function stop(s: Sup): Promise<Deno.CommandStatus> {
  try {
    Deno.kill(s.pid, "SIGKILL");
  } catch { /* gone */ }
  return await s.proc.status;
}

/** What supervise wrote to stderr so far. */
function errText(s: Sup): string {
  return readOr(s.errFile);
}

/** What svc does: write the bytes to the control FIFO. */
function control(dir: string, bytes: string): void {
  const path = `${dir}/supervise/control`;
  const fd = sysPath(NR.open, path, O_WRONLY | O_NONBLOCK, 0);
  if (fd < 0) throw new Error(`open ${path}: errno ${-fd}`);
  const b = encode(bytes);
  const n = sys(NR.write, fd, addr(b), b.length);
  sys(NR.close, fd);
  if (n !== b.length) throw new Error(`short control write ${n}`);
}

/** Wait until the status file shows a live ./run (and `pred` holds); its status. */
async function upWith(dir: string, pred: (st: RawStatus) => boolean = () => true) {
  return await waitFor(`${dir} up`, () => {
    const st = readStatus(dir);
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

/** True once `pid` used at most 3 ticks of CPU over 300 ms (an idle process; a spin uses ~30). */
async function idle(pid: number): Promise<boolean> {
  const before = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, 300));
  return cpuTicks(pid) - before <= 3;
}

// ------------------------------------------------------------------ usage and start-up

Deno.test("usage: no dir or an extra argument, exit 100", async () => {
  for (const args of [[], ["a", "b"]]) {
    const r = await run(prog("supervise"), args);
    assertEquals([r.code, r.stdout, r.stderr], [100, "", "supervise: usage: supervise dir\n"]);
  }
});

Deno.test("missing or non-directory DIR: unable to chdir, 111", async () => {
  await using t = await tree("dt-sup-");
  await Deno.writeTextFile(`${t.root}/file`, "");
  const cases: [string, string][] = [
    ["nonexistent", "file does not exist"],
    ["file", "not a directory"],
  ];
  for (const [d, err] of cases) {
    const r = await run(prog("supervise"), [d], { cwd: t.root });
    assertEquals([r.code, r.stderr], [111, `supervise: fatal: unable to chdir to ${d}: ${err}\n`]);
  }
});

Deno.test("supervise/ is a regular file: unable to acquire lock, not a directory", async () => {
  await using t = await tree("dt-sup-");
  await t.service("svc");
  await Deno.writeTextFile(`${t.root}/svc/supervise`, "");
  const r = await run(prog("supervise"), ["svc"], { cwd: t.root });
  assertEquals(r.code, 111);
  assertEquals(
    r.stderr,
    "supervise: fatal: unable to acquire svc/supervise/lock: not a directory\n",
  );
});

Deno.test("start-up layout, modes, and a clean ./run (cwd, fds, signals, process group)", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc", { pre: "exec 7</dev/null" }); // fd 7 leaked to supervise
  const st = await upWith(dir);
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
    ["control", "history", "lock", "ok", "status"],
  );
  assertEquals(mode("/history"), 0o644);
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
});

Deno.test("a second supervise on the same directory: lock busy, files untouched", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc");
  await upWith(dir);
  const before = Deno.readFileSync(`${dir}/supervise/status`);
  const r = await run(prog("supervise"), ["svc"], { cwd: t.root });
  assertEquals(r.code, 111);
  assertEquals(
    r.stderr,
    "supervise: fatal: unable to acquire svc/supervise/lock: temporary failure\n",
  );
  assertEquals(Deno.readFileSync(`${dir}/supervise/status`), before);
  assert(alive(s.pid));
});

Deno.test("Debian patch: a dangling supervise symlink's target is created", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  await Deno.symlink(`${t.root}/elsewhere`, `${dir}/supervise`);
  startSup(t, "svc");
  await upWith(dir);
  assert(Deno.statSync(`${t.root}/elsewhere/lock`).isFile);
  assertEquals(Deno.statSync(`${t.root}/elsewhere`).mode! & 0o777, 0o700);
});

// ------------------------------------------------------------------ control bytes

Deno.test("down file: not started; u starts; d stops; x exits 0", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  await Deno.writeTextFile(`${dir}/down`, "");
  const s = startSup(t, "svc");
  await waitFor("ok", () => okRunning(dir));
  const st = await waitFor("status", () => readStatus(dir));
  assertEquals([st.pid, st.wantByte], [0, "d".charCodeAt(0)]);
  control(dir, "u");
  const up = await upWith(dir);
  assertEquals(up.wantByte, "u".charCodeAt(0));
  control(dir, "d");
  await waitFor("down", () => readStatus(dir)?.pid === 0 && !alive(up.pid));
  assertEquals(readStatus(dir)!.wantByte, "d".charCodeAt(0));
  control(dir, "x");
  const code = await s.proc.status;
  assertEquals(code.code, 0);
  assert(!okRunning(dir));
});

Deno.test("t and k restart the service; o runs once; x waits for the child", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc");
  const a = await upWith(dir);
  control(dir, "t");
  const b = await upWith(dir, (st) => st.pid !== a.pid);
  control(dir, "k");
  const c = await upWith(dir, (st) => st.pid !== b.pid);
  control(dir, "o");
  await waitFor("want 0", () => readStatus(dir)?.wantByte === 0);
  control(dir, "t");
  await waitFor("down after once", () => readStatus(dir)?.pid === 0);
  assert(!alive(c.pid));
  assertEquals(readStatus(dir)!.wantByte, 0);
  control(dir, "u");
  const d = await upWith(dir);
  control(dir, "x");
  // x: supervise stays while the child runs and exits once it is gone (no restart)
  await waitFor("x recorded", () => readStatus(dir)?.pid === d.pid);
  assert(alive(s.pid));
  control(dir, "t");
  const code = await s.proc.status;
  assertEquals(code.code, 0);
  assertEquals(readStatus(dir)!.pid, 0);
  assert(!alive(d.pid));
});

Deno.test("p pauses (SIGSTOP, state T), c continues, h a i reach the child", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc", {
    run: "#!/bin/sh\n" +
      'for s in HUP ALRM INT; do trap "echo $s >> sig.log" $s; done\n' +
      ": > ready\n" +
      "while :; do sleep 0.05; done\n",
  });
  startSup(t, "svc");
  const a = await upWith(dir);
  await waitFor("traps set", () => Deno.statSync(`${dir}/ready`).isFile);
  control(dir, "p");
  await waitFor("paused", () => readStatus(dir)?.pausedByte === 1);
  await waitFor("state T", () => procStat(a.pid)[0] === "T");
  control(dir, "c");
  await waitFor("continued", () => readStatus(dir)?.pausedByte === 0);
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
  assertEquals(readStatus(dir)!.pid, a.pid); // trapped: never restarted
});

Deno.test("junk bytes flooding the control FIFO are ignored, commands after them work", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc");
  const a = await upWith(dir);
  const junk = new Uint8Array(256 * 1024);
  const commands = new Set([..."udopchaitkx"].map((c) => c.charCodeAt(0)));
  const pool = [...Array(256).keys()].filter((b) => !commands.has(b));
  junk.forEach((_, i) => (junk[i] = pool[i % pool.length]));
  const f = await Deno.open(`${dir}/supervise/control`, { write: true });
  for (let off = 0; off < junk.length;) off += await f.write(junk.subarray(off));
  await f.write(new TextEncoder().encode("p"));
  f.close();
  const st = await waitFor("paused", () => {
    const st = readStatus(dir);
    return st?.pausedByte === 1 ? st : undefined;
  });
  assertEquals([st.pid, st.wantByte], [a.pid, "u".charCodeAt(0)]);
  // and supervise is idle again (not spinning on the FIFO) from here on: handling "c" and the
  // stretch until a quiet 300 ms window cost next to nothing, where a spin would burn ~30 ticks
  // in that window alone (a few ms a slow machine adds do not come near 10 ticks)
  const t0 = cpuTicks(s.pid);
  control(dir, "c");
  await waitFor("continued", () => readStatus(dir)?.pausedByte === 0);
  await waitFor("idle", () => idle(s.pid));
  const used = cpuTicks(s.pid) - t0;
  assert(used <= 10, `supervise used ${used} ticks after the flood`);
  assertEquals(errText(s), "");
});

// ------------------------------------------------------------------ bad ./run

Deno.test("missing, non-executable and directory run: exact message once per attempt", async () => {
  await using t = await tree("dt-sup-");
  const cases: [string, (d: string) => Promise<void>, string][] = [
    ["missing", async () => {}, "file does not exist"],
    ["noexec", (d) => Deno.writeTextFile(`${d}/run`, "#!/bin/sh\necho hi\n"), "access denied"],
    ["isdir", (d) => Deno.mkdir(`${d}/run`), "access denied"],
  ];
  const sups: [string, Sup, string][] = [];
  for (const [name, make, err] of cases) {
    await Deno.mkdir(t.path(name));
    await make(t.path(name));
    sups.push([name, startSup(t, name), err]);
  }
  for (const [name, s, err] of sups) {
    const line = `supervise: fatal: unable to start ${name}/run: ${err}\n`;
    const text = await waitFor(`two attempts for ${name}`, () => {
      const e = errText(s);
      return e.split(line).length - 1 >= 2 ? e : undefined;
    });
    // nothing but that line, repeated
    assertEquals(text.replaceAll(line, ""), "");
    const st = readStatus(t.path(name))!;
    assertEquals([st.pid, st.wantByte], [0, "u".charCodeAt(0)]);
    assert(alive(s.pid));
  }
});

Deno.test("run that exits at once: restarted, starts >= 1 s apart, supervise stays idle", async () => {
  // the kernel's start time of each ./run (clock ticks since boot, field 22 of stat)
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc", {
    run: "#!/bin/sh\ncut -d' ' -f22 /proc/$$/stat >> starts\n",
  });
  const s = startSup(t, "svc");
  const starts = () => {
    try {
      return Deno.readTextFileSync(`${dir}/starts`).trim().split("\n").map(Number);
    } catch {
      return [];
    }
  };
  await waitFor("2 starts", () => starts().length >= 2);
  const cpu0 = cpuTicks(s.pid);
  const n0 = starts().length;
  await waitFor("2 more starts", () => starts().length >= n0 + 2);
  const cpu = cpuTicks(s.pid) - cpu0;
  const at = starts();
  for (let i = 1; i < at.length; i++) {
    // the throttle is a lower bound: a slow machine only makes the gaps longer
    // (ticks are 10 ms: 99 allows for the resolution)
    assert(at[i] - at[i - 1] >= 99, `starts ${i - 1} and ${i}: ${at[i] - at[i - 1]} ticks`);
  }
  // >= 2 s of wall time for those starts; a busy loop would burn ~100 ticks a second
  assert(cpu < 60, `supervise used ${cpu} ticks over two restarts`);
  assertEquals(errText(s), "");
});

// ------------------------------------------------------------------ hostile surroundings

Deno.test("status.new cannot be created: warning on every status write, keeps running", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  await Deno.mkdir(`${dir}/supervise/status.new`, { recursive: true }); // open gives EISDIR
  const s = startSup(t, "svc");
  const line = "supervise: warning: unable to open svc/supervise/status.new: is a directory\n";
  await waitFor("ok", () => okRunning(dir));
  // start-up writes (step 8, start of ./run, loop entry): at least two warnings
  await waitFor("warnings", () => errText(s).split(line).length - 1 >= 2);
  const n = errText(s).split(line).length - 1;
  control(dir, "p");
  await waitFor("one more", () => errText(s).split(line).length - 1 === n + 1);
  assertEquals(errText(s).replaceAll(line, ""), "");
  assert(alive(s.pid));
});

// ------------------------------------------------------------------ exit history

/** `supervise/history` decoded (lib/history.ts), or undefined. */
function history(dir: string) {
  try {
    return decodeHistory(Deno.readFileSync(`${dir}/supervise/history`));
  } catch {
    return undefined;
  }
}

Deno.test("history: exit code and killing signal of ./run, starts counted, status untouched", async () => {
  await using t = await tree("dt-sup-");
  // exits 3 after a while the first time, then sleeps
  const dir = await t.service("svc", {
    run: "#!/bin/sh\nif [ ! -e once ]; then : >once; sleep 1.2; exit 3; fi\nexec sleep 100000\n",
  });
  const s = startSup(t, "svc");
  const h0 = await waitFor(
    "first start",
    () => history(dir)?.starts === 1 ? history(dir) : undefined,
  );
  assertEquals(h0.lastExit, null);
  const a = await upWith(dir, () => history(dir)?.starts === 2);
  const h1 = history(dir)!;
  assertEquals([h1.lastExit?.code, h1.lastExit?.signal], [3, null]);
  assert(h1.since !== null && h1.lastExit!.time >= h1.since, JSON.stringify(h1));
  control(dir, "k");
  await upWith(dir, (st) => st.pid !== a.pid && history(dir)?.starts === 3);
  const h2 = history(dir)!;
  assertEquals([h2.lastExit?.code, h2.lastExit?.signal, h2.since], [null, 9, h1.since]);
  // the 18-byte status is 0.76's, and no temporary file is left behind
  assertEquals(Deno.statSync(`${dir}/supervise/status`).size, 18);
  assert(!Deno.readDirSync(`${dir}/supervise`).some((e) => e.name.endsWith(".new")));
  // one JSON line
  assertMatch(Deno.readTextFileSync(`${dir}/supervise/history`), /^\{"version":1,[^\n]*\}\n$/);
  assert(alive(s.pid));
});

Deno.test("history: a new supervise replaces an old history (starts since it began)", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc", { down: true });
  await Deno.mkdir(`${dir}/supervise`);
  await Deno.writeTextFile(
    `${dir}/supervise/history`,
    '{"version":1,"since":5,"starts":99,"last_exit":{"code":1,"signal":null,"time":6},"ready":null}\n',
  );
  startSup(t, "svc");
  const h = await waitFor("fresh history", () => {
    const h = history(dir);
    return h?.starts === 0 ? h : undefined;
  });
  assertEquals(h.lastExit, null);
  assert(h.since !== null && h.since > 1e9);
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
    await using t = await tree("dt-sup-");
    const dir = await t.service("svc");
    await using deno = await tree("dt-denodir-");
    const denoDir = deno.root;
    await run("chown", ["-R", "nobody", t.root, denoDir]);
    const wrap = `setpriv --reuid=nobody --regid=nogroup --clear-groups env DENO_DIR=${denoDir}`;
    // nobody must reach the launcher (temp dirs are 0700)
    await Deno.chmod(prog("supervise").replace(/\/supervise$/, ""), 0o755);
    const first = startSup(t, "svc");
    // create supervise/ as root first, then hand it to nobody and make it read-only
    const { pid } = await upWith(dir);
    await stop(first);
    Deno.kill(pid, "SIGKILL"); // its ./run: only the next one may be found in dir below
    await waitFor("the first ./run gone", () => !alive(pid));
    await run("chown", ["-R", "nobody", `${dir}/supervise`]);
    await Deno.chmod(`${dir}/supervise`, 0o500);
    const s = startSup(t, "svc", { wrap });
    const line = "supervise: warning: unable to open svc/supervise/status.new: access denied\n";
    const warned = () => errText(s).split(line).length - 1;
    // two status writes before any control byte: at loop entry, then for the start of ./run
    // (./run showing in /proc is not enough: the spawn's child is there before supervise
    // gets to its status write)
    await waitFor("up as nobody", () => warned() >= 2, 30_000);
    await waitFor("./run as nobody", () => processesUnder(dir).some((p) => p !== s.pid));
    const n = warned();
    assertEquals(n, 2);
    control(dir, "h");
    control(dir, "p");
    await waitFor("warning for p", () => warned() === n + 1);
    assertEquals(errText(s).replaceAll(line, ""), "");
  },
});

Deno.test("control is a regular file: bytes appended to it are read, no busy loop", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  await Deno.mkdir(`${dir}/supervise`);
  await Deno.writeTextFile(`${dir}/supervise/control`, "");
  const s = startSup(t, "svc");
  const a = await upWith(dir);
  await Deno.writeTextFile(`${dir}/supervise/control`, "zd", { append: true });
  await waitFor("down", () => readStatus(dir)?.pid === 0 && !alive(a.pid));
  await waitFor("idle", () => idle(s.pid));
  assertEquals(errText(s), "");
});

Deno.test("service directory removed while running: supervise keeps going, warns", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc");
  const a = await upWith(dir);
  // ./run must have read itself first: a shell still starting would complain about its cwd
  await waitFor("./run at sleep", () => asleep(a.pid));
  await Deno.remove(dir, { recursive: true });
  Deno.kill(a.pid, "SIGKILL");
  const start = "supervise: fatal: unable to start svc/run: file does not exist\n";
  const open = "supervise: warning: unable to open svc/supervise/status.new: file does not exist\n";
  const text = await waitFor("two restart attempts", () => {
    const e = errText(s);
    return e.split(start).length - 1 >= 2 ? e : undefined;
  });
  assertEquals(text.replaceAll(start, "").replaceAll(open, ""), "");
  assert(text.includes(open));
  assert(alive(s.pid));
});

Deno.test("SIGTERM kills supervise (143) and leaves ./run running", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const s = startSup(t, "svc");
  const a = await upWith(dir);
  Deno.kill(s.pid, "SIGTERM");
  const st = await s.proc.status;
  assertEquals([st.signal, st.code], ["SIGTERM", 143]);
  assert(alive(a.pid));
  assert(!okRunning(dir));
  Deno.kill(a.pid, "SIGKILL");
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

differential(
  "interop: Debian svc/svstat see our supervise exactly as Debian's in every state",
  ["supervise", "svc", "svstat"],
  async ({ supervise, svc, svstat }) => {
    await using deb = await tree("dt-deb-");
    await using our = await tree("dt-our-");
    const trees = { deb, our };
    const names = ["norm", "ndown", "stubborn"];
    for (const t of [deb, our]) {
      await t.service("norm");
      await t.service("ndown", { down: true });
      await t.service("stubborn", { run: "#!/bin/sh\ntrap '' TERM\nexec sleep 100000\n" });
    }
    for (const n of names) startSup(deb, n, { bin: supervise });
    const ours = names.map((n) => startSup(our, n));
    const view = async (which: "deb" | "our", n: string) => {
      const r = await run(svstat, [n], { cwd: trees[which].root });
      return maskStatus(r.stdout) + maskedBytes(trees[which].path(n));
    };
    /** Apply svc options to both, wait until both report the same, return Debian's view. */
    const step = async (n: string, opts: string | undefined, expect: RegExp) => {
      if (opts) {
        for (const t of [deb, our]) await run(svc, [opts, n], { cwd: t.root });
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
    for (const t of [deb, our]) {
      await waitFor("stubborn sleeps", () => {
        const pid = readStatus(t.path("stubborn"))?.pid;
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
    assertEquals((await ours[0].proc.status).code, 0);
  },
);

differential(
  "differential: start-up failures give Debian's exact message and exit code",
  ["supervise"],
  async () => {
    await using t = await tree("dt-sup-");
    const base = t.root;
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
        const ours = await compare("supervise", args, { cwd: base });
        assert(ours.code !== 0, args.join(" "));
      }
    } finally {
      lock.close();
    }
  },
);
