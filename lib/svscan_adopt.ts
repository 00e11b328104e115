/**
 * Restart safety: find the process a previous svscan left running for a service directory.
 * The candidate is the pid in `supervise/status`; it is accepted only when /proc shows a
 * live (not zombie) process whose start time matches the status stamp (the stamp is taken
 * right after the start, so both ages agree to well under a second). A pid reused by an
 * unrelated process fails that test.
 * @module
 */
import { cstr, libc } from "./libc.ts";
import { decodeStatus } from "./status.ts";
import { unixSeconds } from "./tai64n.ts";

/** Clock ticks per second of /proc/PID/stat's starttime (USER_HZ; 100 on Linux). */
const HZ = 100;
/** Largest accepted difference between the two ages, in seconds. */
const SLACK_S = 1.5;

/** Seconds since boot (/proc/uptime), or undefined. */
function uptime(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** Start time of `pid` in seconds since boot, or undefined (gone, zombie, unreadable). */
export function procStart(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f[0] === "Z" || f[0] === "X") return undefined;
    return Number(f[22 - 3]) / HZ;
  } catch {
    return undefined;
  }
}

/**
 * The pid recorded in `statusPath` if that process still runs and started when the status
 * says it did; else 0.
 */
export function adoptable(statusPath: string): number {
  let bytes: Uint8Array;
  // no status file (a first start): say so without the cost of a thrown NotFound
  if (libc().access(cstr(statusPath), 0) !== 0) return 0;
  try {
    bytes = Deno.readFileSync(statusPath);
  } catch {
    return 0;
  }
  const st = decodeStatus(bytes);
  if (!st || !st.pid) return 0;
  const started = procStart(st.pid);
  const up = uptime();
  if (started === undefined || up === undefined) return 0;
  const procAge = up - started;
  const statusAge = Date.now() / 1000 - Number(unixSeconds(st.stamp)) - st.stamp.nano / 1e9;
  return Math.abs(procAge - statusAge) <= SLACK_S ? st.pid : 0;
}
