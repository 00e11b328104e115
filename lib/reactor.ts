/**
 * One event loop per process for raw descriptors: ONE epoll set, ONE pending `epoll_wait`
 * (an FFI call declared nonblocking, so it holds one pool thread however many fds are
 * watched), re-armed after each batch; an eventfd wakes it (shutdown, `soon`). Timers share one JS
 * `setTimeout` (a binary heap of deadlines). A turn that ends with work left comes back with
 * {@linkcode Reactor.soon} instead of a timer: a `setTimeout` hop per 256 KiB cost a flooded
 * hosted logger ~15 % of its CPU. Child processes are watched through pidfds in
 * the same set ({@linkcode Reactor.watchPid}), which also works for processes that are not
 * our children. Nothing here calls `waitpid(-1)`.
 *
 * The loop runs only while something is watched, so a process whose reactor has nothing
 * left to watch and no timers exits when its event loop empties.
 * @module
 */
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLIN,
  SIZEOF_EPOLL_EVENT,
} from "./libc.ts";
import { addr, NR, sys, sysAsync } from "./sys.ts";

/** Called with the epoll event mask when a watched descriptor is ready. */
export type ReadyCallback = (events: number) => void;

const MAX_EVENTS = 256;
/**
 * Rounds polled without waiting (for {@linkcode Reactor.soon}) before one that goes through the
 * pool thread, which lets the runtime's own event loop (timers, signals, other calls) run too.
 */
const SOON_POLLS = 8;
const WAKE_TOKEN = 0n;
/** The eventfd increment that wakes the loop. */
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

interface Watch {
  fd: number;
  cb: ReadyCallback;
}

interface Timer {
  at: number;
  seq: number;
  cb: () => void;
  live: boolean;
}

/** Handle of a timer set with {@linkcode Reactor.at}. */
export interface TimerHandle {
  /** Cancel the timer (no effect once it fired). */
  cancel(): void;
}

/** The per-process reactor. Use {@linkcode reactor} for the shared instance. */
export class Reactor {
  #epfd: number;
  #evfd: number;
  #events = new Uint8Array(MAX_EVENTS * SIZEOF_EPOLL_EVENT);
  #ev = new Uint8Array(SIZEOF_EPOLL_EVENT);
  #byToken = new Map<bigint, Watch>();
  #byFd = new Map<number, bigint>();
  #nextToken = 1n;
  #running = false;
  #loopDone: Promise<void> = Promise.resolve();
  #closed = false;
  #heap: Timer[] = [];
  #seq = 0;
  #timeout: ReturnType<typeof setTimeout> | undefined;
  #timeoutAt = Infinity;
  /** callbacks for the round after the current one ({@linkcode soon}) */
  #soon: (() => void)[] = [];
  /** the loop is between two `epoll_wait`s, running callbacks */
  #dispatching = false;

  constructor() {
    this.#epfd = sys(NR.epoll_create1, EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new Error(`epoll_create1 failed: errno ${-this.#epfd}`);
    this.#evfd = sys(NR.eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#evfd < 0) throw new Error(`eventfd failed: errno ${-this.#evfd}`);
    this.#ctl(EPOLL_CTL_ADD, this.#evfd, EPOLLIN, WAKE_TOKEN);
  }

  /** Number of watched descriptors. */
  get size(): number {
    return this.#byFd.size;
  }

  /**
   * Call `cb` whenever `fd` is ready (level-triggered, `events` default EPOLLIN).
   * Returns 0 or the errno of a failing epoll_ctl. One watch per fd.
   */
  watch(fd: number, cb: ReadyCallback, events = EPOLLIN): number {
    if (this.#closed) throw new Error("reactor closed");
    if (this.#byFd.has(fd)) this.unwatch(fd);
    const token = this.#nextToken++;
    const r = this.#ctl(EPOLL_CTL_ADD, fd, events, token);
    if (r < 0) return -r;
    this.#byToken.set(token, { fd, cb });
    this.#byFd.set(fd, token);
    this.#ensureLoop();
    return 0;
  }

  /** Stop watching `fd` (before closing it). Pending events for it are dropped. */
  unwatch(fd: number): void {
    const token = this.#byFd.get(fd);
    if (token === undefined) return;
    this.#byFd.delete(fd);
    this.#byToken.delete(token);
    this.#ctl(EPOLL_CTL_DEL, fd, 0, 0n);
    if (this.#byFd.size === 0) this.#wake();
  }

  /**
   * Watch process `pid` through a pidfd: `cb` runs once when it terminates (the caller then
   * reaps it with `waitpid(pid, WNOHANG)` if it is a child). Returns the pidfd, or -errno
   * (ESRCH: no such process).
   */
  watchPid(pid: number, cb: () => void): number {
    const pfd = sys(NR.pidfd_open, pid, 0);
    if (pfd < 0) return pfd;
    const err = this.watch(pfd, () => {
      this.unwatch(pfd);
      sys(NR.close, pfd);
      cb();
    });
    if (err) {
      sys(NR.close, pfd);
      return -err;
    }
    return pfd;
  }

  /** Stop watching a pidfd returned by {@linkcode watchPid} and close it. */
  unwatchPid(pfd: number): void {
    if (pfd < 0 || !this.#byFd.has(pfd)) return;
    this.unwatch(pfd);
    sys(NR.close, pfd);
  }

  /** Run `cb` at monotonic time `at` (ms, `performance.now()` scale). */
  at(at: number, cb: () => void): TimerHandle {
    const t: Timer = { at, seq: this.#seq++, cb, live: true };
    this.#push(t);
    this.#arm();
    return {
      cancel: () => {
        if (!t.live) return;
        t.live = false;
        // dead timers are dropped when they reach the top of the heap
        this.#popDead();
        this.#arm();
      },
    };
  }

  /**
   * Run `cb` once, after the descriptors ready by then have had their callbacks: a turn that
   * ends with work left comes back after the others' without a timer (the loop polls the set
   * without waiting while such turns are queued). Needs something watched; else a timer.
   */
  soon(cb: () => void): void {
    if (this.#closed) return;
    if (this.#byFd.size === 0) {
      this.at(performance.now(), cb);
      return;
    }
    this.#soon.push(cb);
    if (!this.#dispatching) this.#wake();
  }

  /**
   * Resolves once no `epoll_wait` is pending (nothing watched any more, or closed), e.g. for
   * tests that must not end with the FFI call outstanding.
   */
  idle(): Promise<void> {
    return this.#loopDone;
  }

  /** Stop everything: no more callbacks; the epoll set and eventfd are closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [...this.#byFd.keys()]) this.unwatch(fd);
    for (const t of this.#heap) t.live = false;
    this.#heap = [];
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#timeout = undefined;
    this.#wake();
    if (!this.#running) this.#closeFds();
  }

  #closeFds(): void {
    sys(NR.close, this.#evfd);
    sys(NR.close, this.#epfd);
  }

  #ctl(op: number, fd: number, events: number, token: bigint): number {
    const v = new DataView(this.#ev.buffer);
    v.setUint32(0, events, true);
    v.setBigUint64(4, token, true);
    return sys(NR.epoll_ctl, this.#epfd, op, fd, addr(this.#ev));
  }

  #wake(): void {
    sys(NR.write, this.#evfd, addr(ONE), 8);
  }

  #ensureLoop(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loopDone = this.#loop().catch((e) => {
      // surface as an uncaught error (main.ts prints "internal error")
      queueMicrotask(() => {
        throw e;
      });
    });
  }

  async #loop(): Promise<void> {
    const view = new DataView(this.#events.buffer);
    const drain = new Uint8Array(8);
    let polls = 0;
    try {
      while (!this.#closed && this.#byFd.size > 0) {
        let n: number;
        if (this.#soon.length > 0 && polls < SOON_POLLS) {
          // no other epoll_wait is pending now: poll on this thread, no hop to the pool
          polls++;
          n = sys(NR.epoll_wait, this.#epfd, addr(this.#events), MAX_EVENTS, 0);
        } else {
          polls = 0;
          const wait = this.#soon.length > 0 ? 0 : -1;
          this.#dispatching = false;
          n = await sysAsync(NR.epoll_wait, this.#epfd, addr(this.#events), MAX_EVENTS, wait);
          this.#dispatching = true;
        }
        // the turns queued before this poll run after what it found ready
        const soon = this.#soon;
        this.#soon = [];
        // copy first: callbacks may change the set
        const ready: [bigint, number][] = [];
        for (let i = 0; i < n; i++) {
          const off = i * SIZEOF_EPOLL_EVENT;
          ready.push([view.getBigUint64(off + 4, true), view.getUint32(off, true)]);
        }
        for (const [token, events] of ready) {
          if (this.#closed) break;
          if (token === WAKE_TOKEN) {
            sys(NR.read, this.#evfd, addr(drain), 8);
            continue;
          }
          const w = this.#byToken.get(token);
          if (w) w.cb(events);
        }
        for (const cb of soon) {
          if (this.#closed) break;
          cb();
        }
      }
    } finally {
      this.#dispatching = false;
      // turns still queued when nothing is watched any more: by timer, as soon() does then
      if (!this.#closed) { for (const cb of this.#soon) this.at(performance.now(), cb); }
      this.#soon = [];
      this.#running = false;
      if (this.#closed) this.#closeFds();
      else if (this.#byFd.size > 0) this.#ensureLoop(); // watched again while winding down
    }
  }

  // --- timers: a binary min-heap on (at, seq), one setTimeout for the earliest ---

  #arm(): void {
    const top = this.#heap[0];
    const at = top ? top.at : Infinity;
    if (at === this.#timeoutAt) return;
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#timeout = undefined;
    this.#timeoutAt = at;
    if (at === Infinity) return;
    this.#timeout = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timeout = undefined;
    this.#timeoutAt = Infinity;
    // the timers due now, taken first: one set by a callback runs at a later wake-up, even if
    // it is due at once, so a timer that re-arms itself cannot keep this loop going
    const now = performance.now();
    const due: Timer[] = [];
    while (this.#heap.length > 0 && this.#heap[0].at <= now) due.push(this.#pop()!);
    for (const t of due) {
      if (!t.live) continue;
      t.live = false;
      t.cb();
      if (this.#closed) return;
    }
    this.#popDead();
    this.#arm();
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      while (true) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  #popDead(): void {
    while (this.#heap.length > 0 && !this.#heap[0].live) this.#pop();
  }
}

let shared: Reactor | undefined;

/** The process-wide reactor (created on first use). */
export function reactor(): Reactor {
  if (shared === undefined) shared = new Reactor();
  return shared;
}
