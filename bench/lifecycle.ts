/**
 * Issue 10's three figures, with our programs (built into a temporary directory):
 *
 * - svwait_U_ms: a service whose ./run blocks reading a FIFO, then writes the readiness newline;
 *   `svwait -U` is started and settled first; time from our write to the FIFO to svwait's exit
 *   (so svwait's own start-up is not counted; its exit and reaping are).
 * - down_kill_ms: ./run ignores TERM, `timeout-kill` is 200; time from writing `d` to
 *   `supervise/control` to the status showing the service down (status polled every ms).
 * - idle CPU: svscan with 100 services, plain and then with every lifecycle file
 *   (notification-fd used, down-signal, timeout-kill, finish, timeout-finish, restart-backoff),
 *   settled, then its CPU ticks (utime + stime, /proc) over IDLE_S seconds.
 *
 * Usage: deno run -A bench/lifecycle.ts [SAMPLES [PARTS]]   (default 11, every part: ~2 minutes;
 * PARTS: a comma-separated choice of svwait, kill, idle)
 * @module
 */
import { encode } from "../lib/bytes.ts";
import { build, median, statusPid } from "./_common.ts";

const SAMPLES = Number(Deno.args[0] ?? 11);
const PARTS = (Deno.args[1] ?? "svwait,kill,idle").split(",");
const IDLE_S = 20;
const N = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms = 1): Promise<void> {
  while (!f()) await sleep(ms);
}

function control(dir: string, c: string): void {
  const f = Deno.openSync(`${dir}/supervise/control`, { write: true });
  f.writeSync(encode(c));
  f.close();
}

function ticks(pid: number): number {
  const t = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = t.slice(t.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Service directory `root/name` with this ./run and lifecycle files; `supervise` started on it. */
function supervised(
  bin: string,
  root: string,
  name: string,
  run: string,
  files: Record<string, string>,
): { dir: string; sup: Deno.ChildProcess } {
  const dir = `${root}/${name}`;
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/run`, run, { mode: 0o755 });
  for (const [f, text] of Object.entries(files)) Deno.writeTextFileSync(`${dir}/${f}`, text);
  const sup = new Deno.Command(`${bin}/supervise`, { args: [dir], stdin: "null" }).spawn();
  return { dir, sup };
}

async function svwaitLatency(bin: string, root: string): Promise<number[]> {
  new Deno.Command("mkfifo", { args: [`${root}/go`] }).outputSync();
  const { dir: d, sup } = supervised(
    bin,
    root,
    "ready",
    "#!/bin/sh\nread x < ../go\necho >&3\nexec sleep 100000\n",
    { "notification-fd": "3" },
  );
  const out: number[] = [];
  let last = 0;
  for (let i = 0; i < SAMPLES; i++) {
    await until(() => statusPid(d) !== 0 && statusPid(d) !== last, 5);
    last = statusPid(d);
    const w = new Deno.Command(`${bin}/svwait`, { args: ["-U", d], stdin: "null" }).spawn();
    await sleep(600); // svwait started and asleep
    const t0 = performance.now();
    const f = Deno.openSync(`${root}/go`, { write: true });
    f.writeSync(encode("go\n"));
    f.close();
    await w.status;
    out.push(performance.now() - t0);
    control(d, "k");
  }
  control(d, "dx");
  await sup.status;
  return out;
}

async function downKill(bin: string, root: string): Promise<number[]> {
  const { dir: d, sup } = supervised(
    bin,
    root,
    "stuck",
    "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n",
    { "timeout-kill": "200" },
  );
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await until(() => statusPid(d) !== 0, 5);
    await sleep(1100);
    const t0 = performance.now();
    control(d, "d");
    await until(() => statusPid(d) === 0);
    out.push(performance.now() - t0);
    control(d, "u");
  }
  control(d, "dx");
  await sup.status;
  return out;
}

async function idleCpu(bin: string, root: string, files: boolean): Promise<number> {
  const scan = `${root}/scan-${files ? "files" : "plain"}`;
  Deno.mkdirSync(scan);
  for (let i = 0; i < N; i++) {
    const d = `${scan}/s${i}`;
    Deno.mkdirSync(d);
    Deno.writeTextFileSync(
      `${d}/run`,
      files ? "#!/bin/sh\necho >&3\nexec sleep 100000\n" : "#!/bin/sh\nexec sleep 100000\n",
      { mode: 0o755 },
    );
    if (files) {
      Deno.writeTextFileSync(`${d}/notification-fd`, "3");
      Deno.writeTextFileSync(`${d}/down-signal`, "HUP");
      Deno.writeTextFileSync(`${d}/timeout-kill`, "2000");
      Deno.writeTextFileSync(`${d}/finish`, "#!/bin/sh\n", { mode: 0o755 });
      Deno.writeTextFileSync(`${d}/timeout-finish`, "1000");
      Deno.writeTextFileSync(`${d}/restart-backoff`, "30000");
    }
  }
  const sv = new Deno.Command(`${bin}/svscan`, {
    args: [scan],
    stdin: "null",
    stderr: "null",
    env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
  }).spawn();
  await until(() => {
    for (let i = 0; i < N; i++) if (!statusPid(`${scan}/s${i}`)) return false;
    return true;
  }, 50);
  await sleep(3000);
  const t0 = ticks(sv.pid);
  await sleep(IDLE_S * 1000);
  const used = ticks(sv.pid) - t0;
  sv.kill("SIGTERM");
  await sv.status;
  return used;
}

const bin = build();
const root = Deno.makeTempDirSync({ prefix: "dt-bench-lc-" });
try {
  const f = (xs: number[]) =>
    `median ${median(xs).toFixed(1)} (min ${Math.min(...xs).toFixed(1)}, max ${
      Math.max(...xs).toFixed(1)
    })`;
  if (PARTS.includes("svwait")) {
    const u = await svwaitLatency(bin, root);
    console.log(`svwait_U_ms        ${f(u)}  n=${u.length}`);
  }
  if (PARTS.includes("kill")) {
    const k = await downKill(bin, root);
    console.log(`down_kill_ms       ${f(k)}  n=${k.length}  (timeout-kill 200)`);
  }
  if (PARTS.includes("idle")) {
    const plain = await idleCpu(bin, root, false);
    const files = await idleCpu(bin, root, true);
    console.log(`idle_ticks_plain   ${plain} ticks in ${IDLE_S} s (${N} services)`);
    console.log(`idle_ticks_files   ${files} ticks in ${IDLE_S} s (${N} services, every file)`);
  }
} finally {
  Deno.removeSync(root, { recursive: true });
  Deno.removeSync(bin, { recursive: true });
}
