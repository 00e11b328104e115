/**
 * Restart latency of `supervise` after SIGKILL of its service, ours vs Debian's daemontools,
 * measured side by side in one run (samples interleaved, medians reported).
 *
 * - restart_ms: the service has been up > 1 s (1.5 s settle), SIGKILL -> the status file
 *   names a new pid (inotify on supervise/, no polling).
 * - restart_backtoback_ms: killed right after it came up: the 1-second start throttle.
 * - startup_ms: exec of `supervise svc` -> status names ./run's pid (Deno's start-up cost).
 *
 * Usage: deno run -A bench/restart.ts [SAMPLES]   (default 9; ~1 minute)
 * @module
 */
import { decodeStatus } from "../lib/status.ts";
import { build, ROOT } from "./_common.ts";

const SAMPLES = Number(Deno.args[0] ?? 9);
const BACK_TO_BACK = 3;
const STARTUPS = 7;
const SETTLE_MS = 1500;

function pidOf(dir: string): number {
  try {
    return decodeStatus(Deno.readFileSync(`${dir}/supervise/status`))?.pid ?? 0;
  } catch {
    return 0;
  }
}

/** Resolve with the time at which `dir`'s status names a pid other than `old` (and not 0). */
async function newPid(
  dir: string,
  old: number,
  events: AsyncIterator<Deno.FsEvent>,
): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${dir}: no new pid within 10 s`)), 10_000);
  });
  try {
    while (true) {
      const p = pidOf(dir);
      if (p !== old && p !== 0) return performance.now();
      // not for-await: leaving that loop would close the watcher
      const ev = await Promise.race([events.next(), timeout]);
      if (ev.done) throw new Error("watcher closed");
    }
  } finally {
    clearTimeout(timer);
  }
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Flavor {
  name: string;
  root: string;
  dir: string;
  proc: Deno.ChildProcess;
  watcher: Deno.FsWatcher;
  events: AsyncIterator<Deno.FsEvent>;
  bin: string;
  restart: number[];
  backToBack: number[];
  startup: number[];
}

async function setup(name: string, bin: string): Promise<Flavor> {
  const root = Deno.makeTempDirSync({ prefix: `dt-bench-${name}-` });
  const dir = `${root}/svc`;
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/run`, "#!/bin/sh\nexec sleep 100000\n");
  Deno.chmodSync(`${dir}/run`, 0o755);
  const proc = new Deno.Command(bin, {
    args: ["svc"],
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const t0 = performance.now();
  while (pidOf(dir) === 0) {
    if (performance.now() - t0 > 10_000) throw new Error(`${name}: supervise did not start`);
    await sleep(10);
  }
  const watcher = Deno.watchFs(`${dir}/supervise`, { recursive: false });
  const events = watcher[Symbol.asyncIterator]();
  return { name, root, dir, proc, watcher, events, bin, restart: [], backToBack: [], startup: [] };
}

async function sample(f: Flavor, settle: number): Promise<number> {
  await sleep(settle);
  if (!alive(f.proc.pid)) throw new Error(`${f.name}: supervise ${f.proc.pid} is gone`);
  const pid = pidOf(f.dir);
  const t0 = performance.now();
  Deno.kill(pid, "SIGKILL");
  return (await newPid(f.dir, pid, f.events)) - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function teardown(f: Flavor): Promise<void> {
  const pid = pidOf(f.dir);
  try {
    f.proc.kill("SIGKILL");
  } catch { /* gone */ }
  if (pid) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  // no f.watcher.close(): it was seen to block forever here; Deno.exit() ends it
  // bounded: Deno has been seen not to report a killed child's exit here
  await Promise.race([f.proc.status, sleep(2000)]);
  Deno.removeSync(f.root, { recursive: true });
}

const debianSupervise = (() => {
  try {
    Deno.statSync("/usr/bin/supervise");
    return Deno.realPathSync("/usr/bin/supervise").startsWith(ROOT)
      ? undefined
      : "/usr/bin/supervise";
  } catch {
    return undefined;
  }
})();

/** exec of `bin svc` -> the status file names ./run's pid (a fresh directory each time). */
async function startup(bin: string): Promise<number> {
  const root = Deno.makeTempDirSync({ prefix: "dt-bench-start-" });
  Deno.mkdirSync(`${root}/svc`);
  Deno.writeTextFileSync(`${root}/svc/run`, "#!/bin/sh\nexec sleep 100000\n", { mode: 0o755 });
  const t0 = performance.now();
  const p = new Deno.Command(bin, { args: ["svc"], cwd: root, stderr: "inherit" }).spawn();
  let pid = 0;
  while (!(pid = pidOf(`${root}/svc`))) {
    if (performance.now() - t0 > 10_000) throw new Error(`${bin}: no start within 10 s`);
    await sleep(1);
  }
  const t = performance.now() - t0;
  p.kill("SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await Promise.race([p.status, sleep(2000)]);
  Deno.removeSync(root, { recursive: true });
  return t;
}

const progress = (s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s));
progress("building... ");
const bin = build();
progress("starting supervise... ");
const flavors = [await setup("ours", `${bin}/supervise`)];
if (debianSupervise) flavors.push(await setup("debian", debianSupervise));
progress("sampling");
try {
  for (let i = 0; i < SAMPLES; i++) {
    for (const f of flavors) f.restart.push(await sample(f, SETTLE_MS));
    progress(".");
  }
  for (let i = 0; i < BACK_TO_BACK; i++) {
    // settle past the throttle, kill once to get a fresh start, then kill that one at once
    for (const f of flavors) {
      await sample(f, SETTLE_MS);
      f.backToBack.push(await sample(f, 0));
    }
    progress(":");
  }
  for (let i = 0; i < STARTUPS; i++) {
    for (const f of flavors) f.startup.push(await startup(f.bin));
  }
  progress("\n");
} finally {
  for (const f of flavors) await teardown(f);
  Deno.removeSync(bin, { recursive: true });
}

const [ours, deb] = flavors;
const row = (metric: string, get: (f: Flavor) => number[]) => {
  const a = median(get(ours));
  const b = deb ? median(get(deb)) : NaN;
  return `| ${metric} | ${a.toFixed(2)} | ${deb ? b.toFixed(2) : "n/a"} | ${
    deb ? (a / b).toFixed(2) : "n/a"
  } |`;
};
console.log(
  `restart after SIGKILL, medians of ${SAMPLES} (back-to-back: ${BACK_TO_BACK}, ` +
    `start-up: ${STARTUPS})\n`,
);
console.log("| metric | ours (ms) | debian (ms) | ours/debian |");
console.log("|---|---:|---:|---:|");
console.log(row("restart_ms", (f) => f.restart));
console.log(row("restart_backtoback_ms", (f) => f.backToBack));
console.log(row("startup_ms", (f) => f.startup));
console.log(`\nsamples ours: ${ours.restart.map((x) => x.toFixed(1)).join(" ")}`);
if (deb) console.log(`samples debian: ${deb.restart.map((x) => x.toFixed(1)).join(" ")}`);
Deno.exit(0); // a child Deno failed to reap must not keep the bench alive
