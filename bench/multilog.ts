/**
 * Logger throughput: 200 MB of 100-byte lines piped by `cat` into
 * `multilog t s16777215 n5 ./log`, ours and Debian's daemontools 0.76 side by side, runs
 * interleaved (the machine is shared and noisy: compare medians of the same run). Times are
 * the logger process alone (bash `time` around it); the log directory is emptied before each
 * run. While ours runs, its VmRSS and PSS (/proc/PID/smaps_rollup) are sampled.
 * Also: tai64n on 50 MB, once each.
 *
 * Usage: deno run -A bench/multilog.ts [ROUNDS] [MB]   (default 3 rounds, 200 MB)
 *
 * Hosted loggers (lib/multilog/hosted.ts) in this process:
 * `deno run -A bench/multilog.ts hosted [MB] [N] [ROUNDS]` (default 200, 100, 3): MB of
 * 100-byte lines from `cat` through a pipe into one hosted `t s16777215 n5` logger, lossless
 * (staging file `hosted-input` beside the log directory, or DT_STAGING) and not, interleaved
 * with our multilog process and Debian's fed the same way (medians of the same run; hosted CPU
 * is this whole process's, cat's not included; DT_ONLY=PREFIX runs only the loggers whose name
 * starts with PREFIX); first N idle lossless (DT_LOSSLESS=0: not lossless) hosted loggers
 * (`t ./main`) started after one: PSS of this process before and after, per logger.
 * @module
 */
import { HostedMultilog, openStaging } from "../lib/multilog/hosted.ts";
import { Reactor } from "../lib/reactor.ts";
import { spawn } from "../lib/spawn.ts";
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY } from "../lib/libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "../lib/sys.ts";
import { median, ROOT } from "./_common.ts";

/** PSS of this process in kB. */
function pss(): number {
  return Number(/Pss:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/smaps_rollup"))![1]);
}

/** CPU seconds of this process so far. */
function cpu(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The staging file: `hosted-input` in the bench directory, or DT_STAGING (a path). */
function stagingFd(D: number): number {
  const p = Deno.env.get("DT_STAGING");
  return p ? openStaging(AT_FDCWD, p) : openStaging(D, "hosted-input");
}

/** One hosted logger run in this process: `cat input |` hosted `t s16777215 n5 ./log`. */
async function hostedOnce(input: string, dir: string, lossless: boolean): Promise<Sample> {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* first run */ }
  Deno.mkdirSync(dir);
  const r = new Reactor();
  const [rd, wr] = pipe();
  const D = dirfd(dir);
  let done = false;
  const l = new HostedMultilog({
    reactor: r,
    fd: rd,
    args: ["t", "s16777215", "n5", "./log"],
    dirfd: D,
    staging: lossless ? stagingFd(D) : undefined,
    onExit: () => done = true,
  });
  l.start();
  const t0 = performance.now(), c0 = cpu();
  const child = spawn("/bin/cat", ["cat", input], { stdout: wr });
  sys(NR.close, wr);
  while (!done) await new Promise((res) => setTimeout(res, 5));
  const wall = (performance.now() - t0) / 1000, cs = cpu() - c0;
  sys(NR.wait4, child.pid, 0, 0, 0);
  sys(NR.close, rd);
  sys(NR.close, D);
  r.close();
  await r.idle();
  return { wall, cpu: cs, rssKb: 0, pssKb: 0 };
}

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  sys(NR.pipe2, addr(fds), O_CLOEXEC);
  return [fds[0], fds[1]];
}

function dirfd(p: string): number {
  return sysAt(NR.openat, AT_FDCWD, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/**
 * PSS of this process with `n` idle lossless hosted loggers (`t ./main`, one line each) on
 * one reactor, against one such logger (the shared buffer and the first logger's code paths
 * counted once). Run before the throughput runs (their garbage would blur it).
 */
async function idleLoggers(n: number): Promise<void> {
  const lossless = Deno.env.get("DT_LOSSLESS") !== "0";
  const r = new Reactor();
  const start = (i: number) => {
    const d = `${tmp}/s${i}`;
    Deno.mkdirSync(d);
    const [prd, pwr] = pipe();
    const line = new TextEncoder().encode(`logger ${i} started\n`);
    sys(NR.write, pwr, addr(line), line.length);
    const D = dirfd(d);
    new HostedMultilog({
      reactor: r,
      fd: prd,
      args: ["t", "./main"],
      dirfd: D,
      staging: lossless ? openStaging(D, "hosted-input") : undefined,
      onExit() {},
    }).start();
  };
  start(0);
  await new Promise((res) => setTimeout(res, 1000));
  const before = pss();
  for (let i = 1; i <= n; i++) start(i);
  await new Promise((res) => setTimeout(res, 2000));
  const after = pss();
  console.log(
    `${n} more idle hosted loggers (${lossless ? "" : "not "}lossless, t ./main): ` +
      `PSS ${before} -> ${after} kB, ` +
      `${((after - before) / n).toFixed(1)} kB per logger`,
  );
  r.close();
  await r.idle();
}

async function hostedBench(mb: number, n: number, rounds: number): Promise<void> {
  if (n > 0) await idleLoggers(n);
  const bin = `${tmp}/bin`;
  sh("sh", [`${ROOT}/scripts/build.sh`, bin, ROOT], { DENO: Deno.execPath(), DENORT_BIN: "" });
  const input = `${tmp}/input`;
  makeInput(input, mb * 1e6);
  const work = `${tmp}/work`;
  const args = ["t", "s16777215", "n5", "./log"];
  const runs: { name: string; run: () => Promise<Sample> }[] = [
    { name: "hosted, lossless", run: () => hostedOnce(input, work, true) },
    { name: "hosted, not lossless", run: () => hostedOnce(input, work, false) },
    { name: "ours, process", run: () => once(`${bin}/multilog`, args, input, work) },
  ];
  try {
    Deno.statSync("/usr/bin/multilog");
    runs.push({
      name: "daemontools 0.76",
      run: () => once("/usr/bin/multilog", args, input, work),
    });
  } catch { /* not installed */ }
  const samples = new Map<string, Sample[]>(runs.map((x) => [x.name, []]));
  const only = Deno.env.get("DT_ONLY");
  if (only) runs.splice(0, runs.length, ...runs.filter((x) => x.name.startsWith(only)));
  for (let i = 0; i < rounds; i++) {
    for (const x of runs) samples.get(x.name)!.push(await x.run());
  }
  const rows = runs.map((x) => {
    const s = samples.get(x.name)!;
    const cpuS = median(s.map((y) => y.cpu));
    return { name: x.name, mbps: mb / median(s.map((y) => y.wall)), cpu: cpuS };
  });
  table(mb, rounds, rows, (x) => x.name.startsWith("daemontools"));
}

/** One row of a throughput table: MB/s, CPU seconds, and any extra columns. */
interface Row {
  name: string;
  mbps: number;
  cpu: number;
  extra?: number[];
}

/** Print the throughput table of `mb` MB over `rounds` rounds; ratios against the `base` row. */
function table(
  mb: number,
  rounds: number,
  rows: Row[],
  base: (r: Row) => boolean,
  extraHeads: string[] = [],
): void {
  const dt = rows.find(base);
  console.log(
    `multilog t s16777215 n5 ./log, ${mb} MB of 100-byte lines from cat, ${rounds} rounds (median)`,
  );
  const heads = ["logger", "MB/s", "CPU s", "CPU ms/MB", ...extraHeads, "MB/s ratio"];
  console.log(`| ${heads.join(" | ")} |`);
  console.log(`|---|${heads.slice(1).map(() => "---:").join("|")}|`);
  for (const r of rows) {
    const ratio = dt ? (r.mbps / dt.mbps).toFixed(2) : "n/a";
    const cells = [r.mbps.toFixed(1), r.cpu.toFixed(2), (r.cpu * 1000 / mb).toFixed(2)];
    console.log(`| ${[r.name, ...cells, ...(r.extra ?? []), ratio].join(" | ")} |`);
  }
}

const rounds = Number(Deno.args[0] ?? 3);
const MB = Number(Deno.args[1] ?? 200);
const tmp = Deno.makeTempDirSync({ prefix: "dt-bench-multilog-" });

function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const o = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  if (!o.success) throw new Error(`${cmd}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout);
}

/** `count` lines of exactly 100 bytes (99 + newline). */
function makeInput(path: string, bytes: number): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(100 * 10000);
  const enc = new TextEncoder();
  let n = 0;
  for (let written = 0; written < bytes; written += chunk.length) {
    for (let i = 0; i < 10000; i++, n++) {
      const head = enc.encode(`${String(n).padStart(8, "0")} `);
      chunk.set(head, i * 100);
      chunk.fill(97 + (n % 26), i * 100 + head.length, i * 100 + 99);
      chunk[i * 100 + 99] = 10;
    }
    f.writeSync(chunk);
  }
  f.close();
}

interface Sample {
  wall: number;
  cpu: number;
  rssKb: number;
  pssKb: number;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** One logger run: `cat input | { time LOGGER ARGS; }`; peak RSS/PSS of the logger. */
async function once(logger: string, args: string[], input: string, dir: string): Promise<Sample> {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* first run */ }
  Deno.mkdirSync(dir);
  const script = 'TIMEFORMAT="%R %U %S"; cat "$1" | { time "$2" "${@:3}" 2>/dev/null; } 2>&1';
  const child = new Deno.Command("bash", {
    args: ["-c", script, "bash", input, logger, ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let rss = 0;
  let pss = 0;
  let done = false;
  const out = child.output().finally(() => (done = true));
  let pid = 0;
  while (!done) {
    if (!pid) {
      for (const e of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        try {
          const cwd = Deno.readLinkSync(`/proc/${e.name}/cwd`);
          const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
          // the logger, in `dir` (ours: *at calls) or in its log directory (0.76 chdirs there),
          // with the script's size in its arguments (so has bash: not that one)
          if (
            (cwd === dir || cwd === `${dir}/log`) && cmd.includes("s16777215") &&
            !/^(\/usr)?(\/bin\/)?bash\0/.test(cmd)
          ) {
            pid = Number(e.name);
          }
        } catch { /* gone */ }
      }
    }
    if (pid) {
      try {
        rss = Math.max(rss, kbField(Deno.readTextFileSync(`/proc/${pid}/status`), "VmRSS"));
        pss = Math.max(pss, kbField(Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`), "Pss"));
      } catch { /* exited */ }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const o = await out;
  const [wall, user, sys] = new TextDecoder().decode(o.stdout).trim().split(/\s+/).map(Number);
  return { wall, cpu: user + sys, rssKb: rss, pssKb: pss };
}

if (Deno.args[0] === "hosted") {
  try {
    await hostedBench(
      Number(Deno.args[1] ?? 200),
      Number(Deno.args[2] ?? 100),
      Number(Deno.args[3] ?? 3),
    );
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
  Deno.exit(0);
}

try {
  const bin = `${tmp}/bin`;
  sh("sh", [`${ROOT}/scripts/build.sh`, bin, ROOT], { DENO: Deno.execPath(), DENORT_BIN: "" });
  const input = `${tmp}/input`;
  makeInput(input, MB * 1e6);
  const work = `${tmp}/work`;
  const loggers = [{ name: "ours", path: `${bin}/multilog` }];
  try {
    Deno.statSync("/usr/bin/multilog");
    loggers.push({ name: "daemontools 0.76", path: "/usr/bin/multilog" });
  } catch { /* not installed */ }
  const samples = new Map<string, Sample[]>(loggers.map((l) => [l.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const l of loggers) {
      samples.get(l.name)!.push(
        await once(l.path, ["t", "s16777215", "n5", "./log"], input, work),
      );
    }
  }
  const rows = loggers.map((l) => {
    const s = samples.get(l.name)!;
    const wall = median(s.map((x) => x.wall));
    return {
      name: l.name,
      mbps: MB / wall,
      cpu: median(s.map((x) => x.cpu)),
      extra: [Math.max(...s.map((x) => x.rssKb)), Math.max(...s.map((x) => x.pssKb))],
    };
  });
  table(MB, rounds, rows, (r) => r.name !== "ours", ["peak VmRSS kB", "peak PSS kB"]);

  // tai64n: 50 MB (or less), once each
  const small = `${tmp}/small`;
  makeInput(small, Math.min(MB, 50) * 1e6);
  const tai = [{ name: "ours", path: `${bin}/tai64n` }];
  try {
    Deno.statSync("/usr/bin/tai64n");
    tai.push({ name: "daemontools 0.76", path: "/usr/bin/tai64n" });
  } catch { /* not installed */ }
  const smb = Math.min(MB, 50);
  const res = tai.map((t) => {
    const o = sh("bash", [
      "-c",
      'TIMEFORMAT="%R %U %S"; { time "$1" < "$2" > /dev/null; } 2>&1',
      "bash",
      t.path,
      small,
    ]);
    const [wall, user, sys] = o.trim().split(/\s+/).map(Number);
    return { name: t.name, mbps: smb / wall, cpu: user + sys };
  });
  console.log(`\ntai64n < ${smb} MB file > /dev/null, one run each`);
  console.log("| program | MB/s | CPU s | MB/s ratio |");
  console.log("|---|---:|---:|---:|");
  const dtT = res.find((r) => r.name !== "ours");
  for (const r of res) {
    const ratio = dtT ? (r.mbps / dtT.mbps).toFixed(2) : "n/a";
    console.log(`| ${r.name} | ${r.mbps.toFixed(1)} | ${r.cpu.toFixed(2)} | ${ratio} |`);
  }
} finally {
  Deno.removeSync(tmp, { recursive: true });
}
