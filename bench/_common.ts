/**
 * The benchmarks' build of our programs: scripts/build.sh into a fresh temp directory (the
 * launcher and one link per program, as `make build` makes them).
 * @module
 */
import { processesUnder, processTree, statusPid, waitFor } from "../tests/util.ts";

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Build into a new temp directory; returns it. */
export function build(): string {
  const dir = Deno.makeTempDirSync({ prefix: "dt-bench-bin-" });
  const out = new Deno.Command("sh", {
    args: [`${ROOT}/scripts/build.sh`, dir, ROOT],
    env: { DENO: Deno.execPath() },
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return dir;
}

/** pid in `svc/supervise/status` (0 when down or unreadable). */
export { statusPid, waitFor } from "../tests/util.ts";

/** The median of `xs` (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** A promise resolved after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `svc -t` latency of service directory `t`, `n` times: the byte svc -t writes is written to
 * `t/supervise/control` here (no svc start-up in the figure), until the status shows a new pid;
 * 1.1 s between two (past the 1-second throttle). Milliseconds, in order.
 */
export async function restartLatencies(t: string, n = 15, timeoutMs = 30_000): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const old = statusPid(t);
    const t0 = performance.now();
    const ctl = Deno.openSync(`${t}/supervise/control`, { write: true });
    ctl.writeSync(new Uint8Array([0x74]));
    ctl.close();
    await waitFor(
      "restart",
      () => {
        const p = statusPid(t);
        return p > 0 && p !== old;
      },
      timeoutMs,
      1,
    );
    ms.push(performance.now() - t0);
    await sleep(1100);
  }
  return ms;
}

/** Every pid whose parent chain reaches `root` (root included), processes named `skip` excluded. */
export function tree(root: number, skip: readonly string[] = ["sleep"]): number[] {
  return processTree(root, skip);
}

/** Sum of one smaps_rollup field (or several) over these processes, in kB. */
export function smapsKb(pids: number[], ...fields: string[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      const text = Deno.readTextFileSync(`/proc/${p}/smaps_rollup`);
      for (const f of fields) {
        const m = new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(text);
        if (m) sum += Number(m[1]);
      }
    } catch {
      // gone
    }
  }
  return sum;
}

/** CPU time (ns) of every thread of these processes. */
export function cpuNs(pids: number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      for (const t of Deno.readDirSync(`/proc/${p}/task`)) {
        sum += Number(Deno.readTextFileSync(`/proc/${p}/task/${t.name}/schedstat`).split(" ")[0]);
      }
    } catch {
      // gone
    }
  }
  return sum;
}

/** SIGKILL `root`, the processes under it and every process working in `dir`; remove `dir`. */
export async function killTree(child: Deno.ChildProcess, dir: string): Promise<void> {
  for (const p of [child.pid, ...tree(child.pid, []), ...processesUnder(dir)]) {
    try {
      Deno.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  await child.status;
  await new Promise((r) => setTimeout(r, 300));
  Deno.removeSync(dir, { recursive: true });
}
