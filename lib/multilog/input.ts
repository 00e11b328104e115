/**
 * Waiting for stdin without blocking the event loop (so SIGTERM/SIGALRM listeners run while
 * multilog is idle) and without consuming anything: readiness comes from an `epoll_wait`
 * run off the main thread; the data is then taken with a plain read(2), which cannot block
 * once the descriptor is readable. Nothing is read that multilog will not process, so a
 * TERM while idle leaves the pipe's contents for the next reader. stdin's flags are never
 * changed (setting O_NONBLOCK would leak into the next reader of the same pipe).
 * @module
 */
import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLLIN, SIZEOF_EPOLL_EVENT } from "../libc.ts";
import { addr, NR, sys, sysAsync } from "../sys.ts";

/** What ended a wait. */
export type Woke = "ready" | "signal" | "spurious";

/** Readiness of one descriptor. */
export class Readiness {
  private readonly ep: number;
  private readonly pollable: boolean;
  private readonly evs = new Uint8Array(SIZEOF_EPOLL_EVENT * 4);
  private pending: Promise<number> | null = null;
  private wake: () => void = () => {};

  constructor(fd: number) {
    this.ep = sys(NR.epoll_create1, EPOLL_CLOEXEC);
    const ev = new Uint8Array(SIZEOF_EPOLL_EVENT);
    new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
    // regular files and /dev/null cannot be polled (EPERM): they are always readable
    this.pollable = this.ep >= 0 && sys(NR.epoll_ctl, this.ep, EPOLL_CTL_ADD, fd, addr(ev)) === 0;
  }

  /** End the current wait early (call from a signal listener). */
  interrupt(): void {
    this.wake();
  }

  /**
   * Wait until the descriptor is readable or {@linkcode interrupt} is called. Always
   * yields to the event loop at least once, so pending signals are handled.
   */
  async wait(): Promise<Woke> {
    if (!this.pollable) {
      await sysAsync(NR.epoll_wait, this.ep, addr(this.evs), 1, 0);
      return "ready";
    }
    // a pending wait cannot be cancelled: a wait interrupted by a signal is reused
    const p = this.pending ??
      (this.pending = sysAsync(NR.epoll_wait, this.ep, addr(this.evs), 4, -1));
    const r = await new Promise<number | null>((res) => {
      this.wake = () => res(null);
      p.then(res);
    });
    this.wake = () => {};
    if (r === null) return "signal";
    this.pending = null;
    return r > 0 ? "ready" : "spurious";
  }
}
