/**
 * svscan as pid 1 (a container's init): orphans re-parented to it must be reaped, or they
 * stay zombies. Services are reaped by pid through their pidfds (lib/service.ts), so the
 * reaper takes only zombies whose parent is 1 and that are not services: nothing is stolen.
 * @module
 */
import { WNOHANG } from "../libc.ts";
import { procStat } from "../proc.ts";
import { addr, NR, sys } from "../sys.ts";
import { readNames } from "../readdir.ts";

const status = new Int32Array(1);

/**
 * Reap every zombie child of pid 1 found in /proc whose pid is not in `ours`. Bounded: one
 * pass over /proc, one non-blocking wait4 per zombie.
 */
export function reapOrphans(ours: ReadonlySet<number>): void {
  const names = readNames("/proc");
  if (typeof names === "number") return; // no /proc: nothing can be found
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 1 || ours.has(pid)) continue;
    const st = procStat(pid);
    if (st?.state === "Z" && st.ppid === 1) sys(NR.wait4, pid, addr(status), WNOHANG, 0);
  }
}
