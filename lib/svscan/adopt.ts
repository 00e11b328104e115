/**
 * Restart safety: find the process a previous svscan left running for a service directory.
 * The candidate is the pid in `supervise/status`; it is accepted only when /proc shows a
 * live (not zombie) process whose start time matches the status stamp (the stamp is taken
 * right after the start, so both ages agree to well under a second). A pid reused by an
 * unrelated process fails that test.
 * @module
 */
import { readSmall } from "../open.ts";
import { HZ, procStat } from "../proc.ts";
import { decodeStatus } from "../status.ts";
import { unixSeconds } from "../tai64n.ts";

const statusBuf = new Uint8Array(64);

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
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return undefined;
  return st.startTicks / HZ;
}

/**
 * The pid recorded in `statusPath` if that process still runs and started when the status
 * says it did; else 0.
 */
export function adoptable(statusPath: string): number {
  // no status file (a first start): the usual case, answered by one open
  // one bounded read of a regular file: a FIFO or /dev/zero put there stalls nothing
  const bytes = readSmall(statusPath, statusBuf);
  if (!bytes) return 0;
  const st = decodeStatus(bytes);
  if (!st || !st.pid) return 0;
  const started = procStart(st.pid);
  const up = uptime();
  if (started === undefined || up === undefined) return 0;
  const procAge = up - started;
  const statusAge = Date.now() / 1000 - Number(unixSeconds(st.stamp)) - st.stamp.nano / 1e9;
  return Math.abs(procAge - statusAge) <= SLACK_S ? st.pid : 0;
}
