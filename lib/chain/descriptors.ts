/**
 * Descriptors a chain hands to the program it runs. Deno's own descriptors are all
 * close-on-exec; what our parent passed us (not close-on-exec) passes through; a descriptor a
 * link opens for the program (setlock's lock) is opened close-on-exec, because the runtime may
 * go on, and moved to the number 0.76 would have given it right before the exec.
 * @module
 */
import { F_GETFD, F_SETFD, FD_CLOEXEC } from "../libc.ts";
import { closedFds } from "../launch.ts";
import { dirents } from "../readdir.ts";
import { NR, sys } from "../sys.ts";

/** fcntl command: duplicate to the lowest free fd >= arg, close-on-exec. */
export const F_DUPFD_CLOEXEC = 1030;

/** Descriptors an exec'd program would get: open here and not close-on-exec. */
export function inheritedFds(): Set<number> {
  const out = new Set<number>();
  const names = dirents("/proc/self/fd");
  if (typeof names === "number") return out;
  for (const name of names) {
    let fd = 0;
    for (const c of name) fd = fd * 10 + c - 48;
    // the listing's own descriptor is closed by now: fcntl fails for it
    const flags = sys(NR.fcntl, fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) out.add(fd);
  }
  return out;
}

/** Lowest descriptor number not in `used`. */
export function lowestFree(used: Set<number>): number {
  let fd = 0;
  while (used.has(fd)) fd++;
  return fd;
}

/** A descriptor handed on: open here as `fd`, at `target` in the program. */
export interface Handoff {
  fd: number;
  target: number;
}

/** The descriptors a chain hands to its program, at their numbers there. */
export class Handoffs {
  private list: Handoff[] = [];

  /**
   * Hand `fd` (opened close-on-exec: the runtime keeps running) to the exec'd program at the
   * number 0.76 would have given it: the lowest one not open for the program (Deno's own
   * descriptors do not count).
   */
  handOn(fd: number): void {
    this.list.push({ fd, target: lowestFree(this.childFds()) });
  }

  /** Descriptors handed on so far (source here, number in the program). */
  all(): readonly Handoff[] {
    return this.list;
  }

  /**
   * The descriptors the next program will have open (not those among 0-2 the caller had closed:
   * the launcher's stand-ins are closed for it).
   */
  childFds(): Set<number> {
    const used = inheritedFds();
    for (const fd of closedFds()) used.delete(fd);
    for (const h of this.list) used.add(h.target);
    return used;
  }

  /** For a program of ours run in this process: the handed-on descriptors stay open for its children. */
  keepOpen(): void {
    for (const h of this.list) sys(NR.fcntl, h.fd, F_SETFD, 0);
  }

  /**
   * Put every handed-on descriptor at its number (the runtime's descriptor there is saved).
   * Returns how to undo it if every execve fails.
   */
  place(): () => void {
    let top = 0;
    for (const h of this.list) top = Math.max(top, h.target + 1);
    const moves: { target: number; saved: number; tmp: number }[] = [];
    for (const h of this.list) {
      const tmp = sys(NR.fcntl, h.fd, F_DUPFD_CLOEXEC, top);
      moves.push({ target: h.target, saved: sys(NR.fcntl, h.target, F_DUPFD_CLOEXEC, top), tmp });
    }
    for (const m of moves) sys(NR.dup2, m.tmp, m.target);
    // the caller's closed descriptors are closed for the program (their stand-ins saved)
    const shut: { fd: number; saved: number }[] = [];
    for (const fd of closedFds()) {
      if (this.list.some((h) => h.target === fd)) continue;
      shut.push({ fd, saved: sys(NR.fcntl, fd, F_DUPFD_CLOEXEC, top) });
      sys(NR.close, fd);
    }
    return () => {
      for (const c of shut) {
        if (c.saved < 0) continue;
        sys(NR.dup2, c.saved, c.fd);
        sys(NR.close, c.saved);
      }
      for (const m of moves.reverse()) {
        if (m.saved < 0) sys(NR.close, m.target);
        else {
          sys(NR.dup2, m.saved, m.target);
          sys(NR.fcntl, m.target, F_SETFD, FD_CLOEXEC);
          sys(NR.close, m.saved);
        }
        sys(NR.close, m.tmp);
      }
    };
  }
}
