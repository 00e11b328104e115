/**
 * A multilog run inside another process (svscan) on its reactor: many of them share one
 * buffer and one event loop. Same line engine, log directory code and files as the standalone
 * program (lib/multilog/engine.ts, logdir.ts); what differs is the driver:
 *
 * - input: the log pipe's read end (held by the host), read when epoll says so, at most
 *   {@linkcode HostedPool.readSize} bytes per wake-up and logger (bounded work, fairness);
 * - memory: one {@linkcode HostedPool} buffer holds the input chunk, the line and every
 *   directory's pending output for the logger being served; after its turn a logger's regions
 *   are empty (everything written), its partial line (≤ 1000 bytes) parked aside;
 * - waiting: 0.76's pauses are timers, fsync runs on a pool thread, the processor is reaped
 *   through a pidfd. While a logger waits, its unwritten bytes move to a private buffer and it
 *   reads nothing (lines wait in the pipe, as behind a paused process);
 * - the file system: every call relative to a directory descriptor, O_NOFOLLOW, never chdir.
 *
 * See docs/multilog.md, "Hosted loggers".
 * @module
 */
import { line, sysText, warnSys, writeErr } from "../msg.ts";
import { EAGAIN, EINTR } from "../errors.ts";
import { type Reactor } from "../reactor.ts";
import { NR, sysAsync } from "../sys.ts";
import { EPOLLHUP, EPOLLIN } from "../libc.ts";
import { fstat } from "../stat.ts";
import { STAMP_LEN } from "./stamp.ts";
import { bytesNeeded, Engine, type Sizes } from "./engine.ts";
import { type LogDir, type Req, StartError, type Steps } from "./logdir.ts";
import { type Outcome, waitProcessor } from "./processor.ts";
import { parseScript, type Script } from "./script.ts";
import * as sys from "./sys.ts";

const P = "multilog";
/** pending output per directory in the shared buffer */
const OUTPUT = 524288;
/** the largest read (a logger without `t`); with `t` a read is smaller (see readSize) */
const INPUT = 262144;
const PAUSE_MS = 5000;
/** bytes one logger may read per wake-up */
const TURN = 262144;
/** epoll's edge-triggered flag: a lossless logger leaves bytes in the pipe it has seen */
const EPOLLET = 0x80000000;

/**
 * fsyncs in flight at once, for every hosted logger of the process: per file system, and in
 * all. The runtime runs blocking calls on a small pool of threads (32 on this Deno) that the
 * reactor's `epoll_wait` needs too: without a bound, 32 loggers rotating into a disk that does
 * not answer took every thread and the host stopped supervising until the disk came back. Per
 * file system, so that such a disk does not hold up the loggers writing elsewhere. The others
 * wait their turn, in order.
 */
const FSYNCS_PER_FS = 4;
const FSYNCS = 16;
let fsyncing = 0;
const fsyncingOn = new Map<number, number>();
const fsyncQueue: { dev: number; go: () => void }[] = [];

/** fsync(fd) on a pool thread within the bounds above: the result or -errno. */
function fsyncBounded(fd: number): Promise<number> {
  const st = fstat(fd);
  const dev = typeof st === "number" ? -1 : st.dev;
  return new Promise((resolve) => {
    const go = () => {
      fsyncing++;
      fsyncingOn.set(dev, (fsyncingOn.get(dev) ?? 0) + 1);
      sysAsync(NR.fsync, fd).then((res) => {
        fsyncing--;
        fsyncingOn.set(dev, fsyncingOn.get(dev)! - 1);
        const i = fsyncQueue.findIndex((q) => mayFsync(q.dev));
        if (i >= 0) fsyncQueue.splice(i, 1)[0].go();
        resolve(res);
      });
    };
    if (mayFsync(dev)) go();
    else fsyncQueue.push({ dev, go });
  });
}

function mayFsync(dev: number): boolean {
  return fsyncing < FSYNCS && (fsyncingOn.get(dev) ?? 0) < FSYNCS_PER_FS;
}

/** The buffer all hosted loggers of a process share (one per reactor is enough). */
export class HostedPool {
  readonly sizes: Sizes = { input: INPUT, output: OUTPUT };
  /** the shared bytes, one buffer per number of directories (the layout depends on it) */
  private readonly byDirs = new Map<number, Uint8Array>();

  /** The buffer for engines with `dirs` directories. */
  buffer(dirs: number): Uint8Array {
    let M = this.byDirs.get(dirs);
    if (M === undefined) this.byDirs.set(dirs, M = new Uint8Array(bytesNeeded(dirs, this.sizes)));
    return M;
  }

  /**
   * Bytes a logger reads per turn: what cannot overflow a directory region in one turn, even
   * if every byte is a newline that gets a 26-byte stamp (a partial line of up to 1000 bytes
   * may be there already).
   */
  readSize(expansion: number): number {
    // a multiple of 1024: 0.76 reads 1024 bytes at a time, and the cut points follow its reads
    return Math.min(this.sizes.input, Math.floor((OUTPUT - 2048) / expansion / 1024) * 1024);
  }
}

let defaultPool: HostedPool | undefined;

/** What starts a hosted logger. */
export interface HostedOptions {
  reactor: Reactor;
  /** the log pipe's read end; the host keeps it (never closed here) */
  fd: number;
  /** multilog's arguments */
  args: string[];
  /** directory descriptor the script's names are relative to (the log service directory) */
  dirfd: number;
  /** called once when the logger has ended: 0 (TERM at a line end, end of input) or 111 */
  onExit: (code: number) => void;
  pool?: HostedPool;
  /**
   * Lossless across a crash of the host (default true): for a script with one log directory
   * and no other action (`t`, `s`, `n`, `!` allowed), input is looked at with tee(2) and moved
   * into `current` with splice(2), so a SIGKILL of the host loses and doubles nothing (see
   * docs/multilog.md, "Lossless across a crash of the host"). Other scripts read as before.
   */
  lossless?: boolean;
}

/** State of a hosted logger. */
export type HostedState = "new" | "starting" | "running" | "ending" | "ended";

/** One multilog hosted on a reactor. */
export class HostedMultilog {
  state: HostedState = "new";
  private readonly r: Reactor;
  private readonly pool: HostedPool;
  private readonly script: Script;
  private engine!: Engine;
  private fileFds: number[] = [];
  /** jobs carried out in order; reading waits while there are any */
  private readonly jobs: (() => Steps)[] = [];
  private busy = false;
  private watching = false;
  /** reading stopped from outside (svc -d / -p) */
  private held = false;
  private term = false;
  /** kill(): end at the next chance, line end or not */
  private killed = false;
  private atNewline = true;
  /** lossless: tee, process the copy, splice (one directory, no selection) */
  private exact = false;
  /** lossless: the private pipe the look-ahead goes through, [read end, write end] */
  private priv: [number, number] | null = null;
  /** lossless: input bytes processed so far (those not yet spliced are still in the pipe) */
  private processedIn = 0;

  constructor(private readonly o: HostedOptions) {
    this.r = o.reactor;
    this.pool = o.pool ?? (defaultPool ??= new HostedPool());
    this.script = parseScript(o.args);
  }

  /** Open the `=FILE`s and the log directories (0.76's start-up), then read. */
  start(): void {
    if (this.state !== "new") return;
    this.state = "starting";
    const D = this.o.dirfd;
    try {
      this.fileFds = this.script.files.map((f) => {
        let fd = sys.openAt(D, f, "append");
        if (fd < 0) throw new StartError(`unable to create ${f}`, sys.lastErr());
        sys.close(fd);
        fd = sys.openAt(D, f, "write");
        if (fd < 0) throw new StartError(`unable to write ${f}`, sys.lastErr());
        return fd;
      });
    } catch (e) {
      return this.fail(e);
    }
    const sc = this.script;
    if (
      (this.o.lossless ?? true) && sc.dirs.length === 1 &&
      sc.actions.every((a) => a.kind === "dir")
    ) {
      this.priv = sys.pipe() ?? null;
      if (this.priv === null) {
        warnSys(P, "unable to create pipe, reading without look-ahead", sys.lastErr());
      }
      this.exact = this.priv !== null;
    }
    const M = this.pool.buffer(sc.dirs.length);
    this.engine = new Engine(sc, this.fileFds, this.pool.sizes, {
      M,
      dir: {
        startFd: D,
        nofollow: true,
        procCwd: (fd) => `/proc/self/fd/${fd}`,
        source: this.exact ? this.o.fd : undefined,
        stampLen: sc.timestamp ? STAMP_LEN : 0,
      },
    });
    for (const d of this.engine.dirs) this.jobs.push(() => d.restart());
    this.jobs.push(() => this.started());
    this.run();
  }

  // deno-lint-ignore require-yield
  private *started(): Steps {
    if (this.exact && this.engine.dirs[0].midLine) {
      this.engine.continueLine();
      this.atNewline = false;
    }
    this.state = "running";
  }

  /** ALRM: rotate every directory whose `current` is not empty (after what is pending). */
  rotate(): void {
    if (this.state !== "running") return;
    for (const d of this.engine.dirs) this.jobs.push(() => d.forceRotateSteps());
    this.run();
  }

  /** Stop reading (svc -d, -p): lines wait in the pipe. */
  hold(): void {
    this.held = true;
    this.update();
  }

  /** Read again (svc -c, -u). */
  release(): void {
    this.held = false;
    this.update();
  }

  /**
   * TERM: end as multilog does. At a line end at once; else finish the line first (reading one
   * byte at a time, leaving the rest in the pipe), then write everything and exit 0.
   */
  stop(): void {
    if (this.state === "ended" || this.state === "ending") return;
    if (this.state !== "running") {
      this.term = true;
      return;
    }
    this.term = true;
    if (this.atNewline && !this.busy) this.end();
    else this.update();
  }

  /**
   * KILL (svc -k from a host): end now without waiting for a line end: what was read is
   * written (a partial line ends as at the end of input), the rest stays in the pipe.
   */
  kill(): void {
    this.killed = true;
    if (this.state === "running" && !this.busy) this.end();
    else this.stop();
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Watch the pipe exactly when this logger wants to read. */
  private update(): void {
    const want = this.state === "running" && !this.busy && !this.held &&
      this.jobs.length === 0;
    if (want && !this.watching) {
      this.watching = true;
      const e = this.exact
        ? this.r.watch(this.o.fd, (ev) => this.lookAhead(ev), EPOLLIN | EPOLLET)
        : this.r.watch(this.o.fd, () => this.readable());
      if (e !== 0) {
        this.watching = false;
        warnSys(P, "unable to watch the log pipe", e);
      }
    } else if (!want && this.watching) {
      this.watching = false;
      this.r.unwatch(this.o.fd);
    }
  }

  private readable(): void {
    // several reads per wake-up while the pipe has more, at most TURN bytes: an epoll round
    // trip per 18 KiB costs more than the lines
    for (let got = 0; got < TURN;) {
      if (this.state !== "running" || this.busy || this.held) return;
      const e = this.engine;
      const M = e.M;
      const max = this.term ? 1 : this.pool.readSize(e.expansion);
      const n = sys.read(this.o.fd, M.subarray(0, max));
      if (n < 0) {
        const err = sys.lastErr();
        if (err === EINTR || err === EAGAIN) return;
        return this.end(); // 0.76 treats a read error like the end of input
      }
      if (n === 0) return this.end();
      this.atNewline = M[n - 1] === 10;
      e.unpark();
      e.process(0, n);
      e.park();
      for (const d of e.dirs) if (!d.idle) this.jobs.push(() => d.commitSteps());
      if (this.term && this.atNewline) return this.end();
      this.run();
      if (n < max || this.term) return; // drained (a pipe read never returns more than it has)
      got += n;
    }
  }

  /**
   * Lossless reading: tee the pipe's head into the private pipe and process only the bytes not
   * seen before (the pipe still holds the partial line, processed but not yet moved). Commits
   * then splice exactly the processed bytes out of the pipe. Edge-triggered: bytes seen stay
   * in the pipe, so it stays readable; a new write wakes us.
   */
  private lookAhead(events: number): void {
    for (let got = 0; got < TURN;) {
      if (this.state !== "running" || this.busy || this.held) return;
      const e = this.engine;
      const M = e.M;
      const [pr, pw] = this.priv!;
      const seen = this.processedIn - e.dirs[0].spliced;
      const max = Math.min(this.pool.readSize(e.expansion), e.inputSize - seen);
      const n = sys.tee(this.o.fd, pw, seen + max);
      if (n < 0) {
        const err = sys.lastErr();
        if (err === EINTR || err === EAGAIN) return;
        return this.end();
      }
      if (n === 0) return this.end();
      for (let off = 0; off < n;) {
        const r = sys.read(pr, M.subarray(off, n));
        if (r <= 0) return this.end(); // cannot happen: the copy is there
        off += r;
      }
      if (n <= seen) {
        // nothing new: the partial line only; with every writer gone that is the end
        if (events & EPOLLHUP) return this.end();
        return;
      }
      let end = n;
      if (this.term) {
        const nl = M.subarray(seen, n).indexOf(10);
        if (nl >= 0) end = seen + nl + 1;
      }
      this.atNewline = M[end - 1] === 10;
      e.unpark();
      e.process(seen, end);
      e.park();
      this.processedIn += end - seen;
      for (const d of e.dirs) if (!d.idle) this.jobs.push(() => d.commitSteps());
      if (this.term && this.atNewline) return this.end();
      this.run();
      if (n - seen < max || this.term) return;
      got += n - seen;
    }
    // the turn is over with bytes left: come back after the others (no edge will come)
    this.r.at(performance.now(), () => {
      if (this.watching) this.lookAhead(0);
    });
  }

  /** End of input or TERM: the partial line as 0.76 finishes it, everything written, fsync. */
  private end(): void {
    if (this.state === "ending" || this.state === "ended") return;
    this.state = "ending";
    this.update();
    const e = this.engine;
    e.unpark();
    e.eof();
    e.park();
    for (const d of e.dirs) this.jobs.push(() => d.commitSteps());
    for (const d of e.dirs) this.jobs.push(() => d.quit());
    this.jobs.push(() => this.finished());
    this.run();
  }

  // deno-lint-ignore require-yield
  private *finished(): Steps {
    this.close();
    this.state = "ended";
    this.o.onExit(0);
  }

  private fail(e: unknown): void {
    if (!(e instanceof StartError)) throw e;
    writeErr(line(P, "fatal", sysText(e.text, e.errno)));
    this.jobs.length = 0;
    this.close();
    this.state = "ended";
    this.o.onExit(111);
  }

  private close(): void {
    if (this.watching) this.r.unwatch(this.o.fd);
    this.watching = false;
    for (const fd of this.fileFds) sys.close(fd);
    this.fileFds = [];
    for (const fd of this.priv ?? []) sys.close(fd);
    this.priv = null;
    if (this.engine) { for (const d of this.engine.dirs) d.close(); }
  }

  // ---- the jobs: steps carried out without blocking ------------------------------------

  /** Carry out jobs until one has to wait (then it continues from a callback) or none is left. */
  private run(): void {
    if (this.busy) return;
    let g: Steps | null = null;
    let val: number | Outcome = 0;
    const step = (): void => {
      for (;;) {
        if (g === null) {
          const job = this.jobs.shift();
          if (job === undefined) {
            this.busy = false;
            this.unrelocate();
            // a TERM that came while busy, at a line end
            if (this.term && (this.atNewline || this.killed) && this.state === "running") {
              return this.end();
            }
            this.update();
            return;
          }
          g = job();
          val = 0;
        }
        let r: IteratorResult<Req, void>;
        try {
          r = g.next(val);
        } catch (e) {
          return this.fail(e);
        }
        if (r.done) {
          g = null;
          if (this.state === "ended") return;
          continue;
        }
        // it waits: the shared buffer is someone else's until it is back
        this.relocate();
        this.wait(r.value, (v) => {
          val = v;
          if (this.state !== "ended") step();
        });
        return;
      }
    };
    this.busy = true;
    this.update();
    step();
  }

  private wait(q: Req, then: (v: number | Outcome) => void): void {
    switch (q.kind) {
      case "pause":
        warnSys(P, q.text, sys.lastErr());
        this.r.at(performance.now() + PAUSE_MS, () => then(0));
        return;
      case "sleep":
        this.r.at(performance.now() + PAUSE_MS, () => then(0));
        return;
      case "fsync":
        fsyncBounded(q.fd).then((res) => {
          if (res < 0) sys.setErr(-res);
          then(res < 0 ? -1 : 0);
        });
        return;
      case "wait": {
        const pfd = this.r.watchPid(q.pid, () => then(waitProcessor(q.pid)));
        if (pfd < 0) then(waitProcessor(q.pid)); // it has gone already: reap at once
        return;
      }
    }
  }

  /** Move every directory's unwritten bytes out of the shared buffer. */
  private relocate(): void {
    for (const d of this.engine?.dirs ?? []) {
      if (d.M !== this.engine.M || d.len === 0) continue;
      const priv = new Uint8Array(d.len + 1);
      priv[0] = 10; // the stop for backward searches
      priv.set(d.M.subarray(d.base, d.base + d.len), 1);
      this.homes.set(d, d.base);
      d.M = priv;
      d.base = 1;
    }
  }

  private readonly homes = new Map<LogDir, number>();

  /** Every directory back in the shared buffer (all written: nothing to copy). */
  private unrelocate(): void {
    for (const [d, base] of this.homes) {
      d.M = this.engine.M;
      d.base = base;
    }
    this.homes.clear();
  }
}
