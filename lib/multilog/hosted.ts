/**
 * A multilog run inside another process (svscan) on its reactor: many of them share one
 * buffer and one event loop. Same line engine, log directory code and files as the standalone
 * program (lib/multilog/engine.ts, logdir.ts); what differs is the driver:
 *
 * - input: the log pipe's read end (held by the host), read when epoll says so, at most 256
 *   KiB per wake-up and logger (bounded work, fairness); for a one-directory script with a
 *   staging file, losslessly: moved out of the pipe only into the staging file (splice) and
 *   read back from there, `current` cut back and the staged input replayed after a crash of
 *   the host (`Stage`);
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
import { NR, sysAsync, sysAt } from "../sys.ts";
import { EPOLLHUP, EPOLLIN, O_CLOEXEC, O_CREAT, O_NOFOLLOW, O_RDWR } from "../libc.ts";
import { fstat } from "../stat.ts";
import { STAMP_LEN } from "./stamp.ts";
import { bytesNeeded, Engine, type Sizes } from "./engine.ts";
import { type Journal, type LogDir, type Req, StartError, type Steps } from "./logdir.ts";
import { type Outcome, type ProcessorAs, waitProcessor } from "./processor.ts";
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
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
/** the log pipe is grown to this, as the standalone multilog grows its stdin pipe */
const PIPE_SIZE = 262144;

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
  /** `args` parsed already (lib/multilog/script.ts), when the caller has them */
  script?: Script;
  /** how its processors start (default: as this process's children) */
  processor?: ProcessorAs;
  /** directory descriptor the script's names are relative to (the log service directory) */
  dirfd: number;
  /** called once when the logger has ended: 0 (TERM at a line end, end of input) or 111 */
  onExit: (code: number) => void;
  pool?: HostedPool;
  /**
   * Runs every piece of this logger's work (start-up, each wake-up, each step on its
   * directories) inside the host's context for it: svscan sets the account's file-system
   * credentials and where the logger's messages go (lib/svscan/hostlog.ts). Default: as is.
   */
  around?: <T>(f: () => T) => T;
  /**
   * The staging file, read-write ({@linkcode openStaging}); the logger owns it from now on
   * (closes it when it ends). With it, a script {@linkcode losslessScript} accepts is read
   * losslessly across a crash of the host: moved out of the pipe only into the staging file
   * and read back, `current` cut back and the staged input replayed by the next logger
   * (docs/multilog.md, "Lossless across a crash of the host"). Without it, or for another
   * script, the logger reads the pipe with read(2).
   */
  staging?: number;
  /** the staging file's name for messages (default `supervise/hosted-input`) */
  stagingName?: string;
  /** staged bytes after which the staging file is cut back to its start (tests: small) */
  stagingRound?: number;
}

/**
 * Whether a logger running `sc` can read losslessly (with a staging file): one log directory
 * and no other action (`t`, `sNNN`, `nNNN`, `!PROC` allowed), so every input byte reaches
 * `current`, in order.
 */
export function losslessScript(sc: Script): boolean {
  return sc.dirs.length === 1 && sc.actions.every((a) => a.kind === "dir");
}

/** Where a log service's staging file lives, relative to the service directory. */
export const STAGING = "supervise/hosted-input";

/**
 * Open (create, 0600) the staging file `name` relative to directory `dirfd` (the log service
 * directory): read-write, O_NOFOLLOW (a symlink planted there is refused). Returns the
 * descriptor or -errno.
 */
export function openStaging(dirfd: number, name = STAGING): number {
  return sysAt(NR.openat, dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600);
}

// ---- the staging file of a lossless logger ---------------------------------------------------

/** The input the staging file holds from byte HDR on; the first bytes hold the header slots. */
const HDR = 4096;
/** header slots: two of this layout's at SLOT0, SLOT0 + SLOT (the first layout's at 0 and 64) */
const SLOT0 = 256;
const SLOT = 128;
const OLD_SLOT = 64;
const OLD_REC = 40;
/**
 * when more than this is staged and all of it is in `current` (but a partial line), the file is
 * cut back to its header and the partial line put there
 */
const STAGE_MAX = 1 << 20;
const MAGIC = 0x4c4d5444;
const MAGIC2 = 0x324d5444;
const ROTATING = 1;
const MIDLINE = 2;
const CLEAN = 4;
/**
 * the staged input goes on past the recorded end (`at`) by up to `k` bytes: as far as `marks`
 * tell (an earlier version's splice over a used round) or, with SIZED, as far as the file goes
 * (every header written now: `at` HDR, `k` ALL, or a partial line's length inside a cut-back)
 */
const PENDING = 8;
const SIZED = 16;
const ALL = 0xffffffff;
const PAGE = 4096;
/** where each layout's two slots are, its magic number, its record's length (checksum last) */
const LAYOUTS = [
  [[SLOT0, SLOT0 + SLOT], MAGIC2, SLOT],
  [[0, OLD_SLOT], MAGIC, OLD_REC],
] as const;

/** Where the input not yet in `current` begins: its staging offset, and inside a line or not. */
interface Pos {
  off: number;
  midLine: boolean;
}

/** The bytes at `at`, then at every page start after it, in [at, at + k): where a splice may stop. */
function pieces(at: number, k: number): number[] {
  const out = [at];
  for (let c = (Math.floor(at / PAGE) + 1) * PAGE; c < at + k; c += PAGE) out.push(c);
  return out;
}

/**
 * How much of a splice of `k` bytes into `fd` at `at` had landed, for a header an earlier
 * version wrote: it spliced into a staging file used round, having first made the byte at `at`
 * and at each page start in the range differ from the one the splice would put there (the
 * `marks`). Up to the first mark still there: the kernel writes a splice into a file page by
 * page, in order.
 */
export function landedSplice(fd: number, at: number, k: number, marks: Uint8Array): number {
  const ps = pieces(at, k);
  const one = new Uint8Array(1);
  for (let i = 0; i < ps.length; i++) {
    if (sys.pread(fd, one, ps[i]) !== 1 || one[0] === marks[i]) return ps[i] - at;
  }
  return k;
}

/**
 * The journal of a lossless hosted logger. Input leaves the log pipe only by splice(2) into the
 * staging file (consumed and kept in one call), appended; the logger reads it back from there
 * (pread) and processes it. The file only grows, so its size is where the staged input ends,
 * whenever the host dies, even inside a splice. A header records {inode of `current`, its size
 * S0, where the input not yet in it begins, whether that is inside a line}; a new logger after a
 * crash cuts `current` back to S0 and replays the staged input from there (lib/multilog/logdir.ts
 * calls {@linkcode recover}). Headers go to two alternating checksummed slots, so a torn one
 * leaves the previous, still true.
 *
 * A header stays true while `current` only grows by the output of the staged input that follows
 * it, so one is written only where that stops: at a start, around a rotation, at the end, and
 * when the file is cut back ({@linkcode rewind}, each round): not per batch. A crash replays at
 * most a round and a batch.
 */
class Stage implements Journal {
  /** end of the staged input (the file's size) */
  end = HDR;
  /** staged input before this was given to the engine */
  rp = HDR;
  /** where the input not yet in `current` begins (the start of the output region) */
  pos: Pos = { off: HDR, midLine: false };
  /** the position after a rotation point, between rotating() and opened() */
  private next: Pos | null = null;
  private seq = 0;
  private ino = 0;
  private readonly rec = new Uint8Array(SLOT);
  private readonly dv = new DataView(this.rec.buffer);
  dir!: LogDir;

  constructor(
    readonly fd: number,
    readonly name: string,
    readonly stampLen: number,
    readonly round: number,
  ) {}

  private static sum(b: Uint8Array, n: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
    return h >>> 0;
  }

  /** The staged input's extent and the newest valid header, if any. */
  private load(): { ino: number; s0: number; pos: Pos; flags: number } | undefined {
    const st = fstat(this.fd);
    const size = typeof st === "number" ? 0 : st.size;
    this.end = this.rp = Math.max(size, HDR);
    this.pos = { off: this.end, midLine: false };
    const all = new Uint8Array(SLOT0 + 2 * SLOT);
    sys.pread(this.fd, all, 0);
    const dv = new DataView(all.buffer);
    let best = -1;
    let bestSeq = 0;
    // this layout's slots first; the first layout's (before the file was used round) only
    // when none of these is valid
    for (const [slots, magic, rec] of LAYOUTS) {
      for (const at of slots) {
        if (dv.getUint32(at, true) !== magic) continue;
        if (dv.getUint32(at + rec - 4, true) !== Stage.sum(all.subarray(at), rec - 4)) continue;
        const seq = dv.getUint32(at + 4, true);
        if (best < 0 || ((seq - bestSeq) | 0) > 0) [best, bestSeq] = [at, seq];
      }
      if (best >= 0) break;
    }
    if (best < 0) return undefined;
    this.seq = bestSeq;
    const flags = dv.getUint32(best + 32, true);
    if (best >= SLOT0) {
      // this layout: the end is recorded, and a splice that was under way measured
      const at = dv.getFloat64(best + 40, true);
      let end = at;
      if (flags & PENDING) {
        const k = dv.getUint32(best + 48, true);
        const n = dv.getUint32(best + 52, true);
        end += flags & SIZED
          ? Math.min(Math.max(size - at, 0), k)
          : landedSplice(this.fd, at, k, all.subarray(best + 56, best + 56 + n));
      }
      this.end = this.rp = Math.max(end, HDR);
      this.pos = { off: this.end, midLine: false };
    }
    const off = dv.getFloat64(best + 24, true);
    return {
      ino: dv.getFloat64(best + 8, true),
      s0: dv.getFloat64(best + 16, true),
      pos: { off: off >= HDR ? off : HDR, midLine: (flags & MIDLINE) !== 0 },
      flags,
    };
  }

  recover(dirfd: number): boolean {
    const h = this.load();
    if (h === undefined || h.flags & CLEAN) return false;
    if (h.pos.off < this.end) {
      this.rp = h.pos.off;
      this.pos = h.pos;
    } else this.pos = { off: this.end, midLine: h.pos.midLine };
    const cur = sys.statAt(dirfd, "current", false);
    if (cur === undefined || cur.ino !== h.ino || cur.mode & 0o100) return false;
    if (cur.size > h.s0) {
      // what was written after the header is replayed from the staged input
      const fd = sys.openAt(dirfd, "current", "write", sys.O_NOFOLLOW);
      if (fd < 0 || sys.ftruncate(fd, h.s0) < 0) {
        throw new StartError(`unable to truncate ${this.dir.dir}/current`, sys.lastErr());
      }
      sys.close(fd);
    }
    // a rotation was under way: 0.76's recovery finishes the full file
    if (h.flags & ROTATING) return false;
    // the line goes on in this `current`; an empty one is as good as a new one
    return h.pos.midLine || h.s0 === 0;
  }

  /**
   * Write a header (alternate slot) saying `current` is `S0` bytes and input from `p` on, which
   * ends where the file does, or at most `k` bytes after HDR.
   */
  private write(s0: number, p: Pos, flags: number, k: number): number {
    this.seq = (this.seq + 1) >>> 0;
    const at = SLOT0 + (this.seq & 1) * SLOT;
    const dv = this.dv;
    this.rec.fill(0);
    dv.setUint32(0, MAGIC2, true);
    dv.setUint32(4, this.seq, true);
    dv.setFloat64(8, this.ino, true);
    dv.setFloat64(16, s0, true);
    dv.setFloat64(24, p.off, true);
    dv.setUint32(32, flags | PENDING | SIZED | (p.midLine ? MIDLINE : 0), true);
    dv.setFloat64(40, HDR, true);
    dv.setUint32(48, k, true);
    dv.setUint32(SLOT - 4, Stage.sum(this.rec, SLOT - 4), true);
    return sys.pwrite(this.fd, this.rec, at);
  }

  /** Record the state: `current` as it is now, the input not in it from `p` on. */
  *record(p: Pos, flags = 0, k = ALL): Steps {
    while (this.write(this.dir.curSize, p, flags, k) < 0) yield this.paused();
  }

  /** The staging file could not be written: 0.76's pause (warning, 5 s, then again). */
  paused(): Req {
    return { kind: "pause", text: `unable to write to ${this.name}, pausing` };
  }

  /** The file ends where the staged input does (an earlier version left rounds after it). */
  *trim(): Steps {
    const st = fstat(this.fd);
    if (typeof st === "number" || st.size <= this.end) return;
    while (sys.ftruncate(this.fd, this.end) < 0) yield this.paused();
  }

  /** The inode of the (new) `current`. */
  named(): void {
    const st = fstat(this.dir.fdcur);
    this.ino = typeof st === "number" ? 0 : st.ino;
  }

  /**
   * Whether the file is to be cut back before more is staged: a round is staged, all of it is
   * processed and written (the caller knows), and the part not in `current` (a partial line)
   * fits before where it begins.
   */
  due(): boolean {
    const P = this.end - this.pos.off;
    return this.end - HDR > this.round && this.rp === this.end && this.pos.off >= HDR + P;
  }

  /**
   * Cut the file back to HDR and the partial line at its end (the input not in `current`), moved
   * there. Every step leaves a header true: first one for the partial line where it is (so that
   * the bytes at HDR are free), then one that limits the staged input to the moved copy (the file
   * is still long), the cut, and one that lets it grow again.
   */
  *rewind(): Steps {
    const P = this.end - this.pos.off;
    yield* this.record(this.pos);
    if (P > 0) {
      const line = new Uint8Array(P);
      while (sys.pread(this.fd, line, this.pos.off) !== P || sys.pwrite(this.fd, line, HDR) !== P) {
        yield this.paused();
      }
    }
    const p = { off: HDR, midLine: this.pos.midLine };
    yield* this.record(p, 0, P);
    while (sys.ftruncate(this.fd, HDR + P) < 0) yield this.paused();
    this.end = this.rp = HDR + P;
    this.pos = p;
    yield* this.record(p);
  }

  *rotating(at: number): Steps {
    this.next = this.after(at);
    yield* this.record(this.next, ROTATING);
  }

  *opened(): Steps {
    this.named();
    yield* this.record(this.next ?? this.pos);
  }

  /** The end: clean when every staged byte is in `current`. */
  *closing(): Steps {
    yield* this.record(this.pos, this.pos.off === this.end ? CLEAN : 0);
  }

  /**
   * The position of the input after the output region's first `at` bytes: the region holds
   * the output of the input from `pos` on, each line start with its stamp first.
   */
  private after(at: number): Pos {
    if (at === 0) return this.pos;
    const d = this.dir;
    const M = d.M;
    const b = d.base;
    let input = 0;
    let q = 0;
    let start = !this.pos.midLine;
    while (q < at) {
      if (start) {
        q += this.stampLen; // never cut inside a stamp: see docs/multilog.md
        if (q >= at) break;
      }
      const nl = M.subarray(b + q, b + at).indexOf(10);
      const e = nl < 0 ? at : q + nl + 1;
      input += e - q;
      q = e;
      start = nl >= 0;
    }
    // the newline 0.76 adds to a partial line at the end of input is not input
    const off = Math.min(this.pos.off + input, this.rp);
    return { off, midLine: M[b + at - 1] !== 10 };
  }
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
  /** lossless (stage, read back, process, write): the journal and staging file */
  private stage: Stage | null = null;

  constructor(private readonly o: HostedOptions) {
    this.r = o.reactor;
    this.pool = o.pool ?? (defaultPool ??= new HostedPool());
    this.script = o.script ?? parseScript(o.args);
    this.around = o.around ?? ((f) => f());
  }

  /** Runs `f` in the host's context for this logger ({@linkcode HostedOptions.around}). */
  private readonly around: <T>(f: () => T) => T;

  /** Open the `=FILE`s and the log directories (0.76's start-up), then read. */
  start(): void {
    this.around(() => this.begin());
  }

  private begin(): void {
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
    const size = sys.fcntl(this.o.fd, F_GETPIPE_SZ, 0);
    if (size > 0 && size < PIPE_SIZE) sys.fcntl(this.o.fd, F_SETPIPE_SZ, PIPE_SIZE);
    if (this.o.staging !== undefined && losslessScript(sc)) {
      this.stage = new Stage(
        this.o.staging,
        this.o.stagingName ?? STAGING,
        sc.timestamp ? STAMP_LEN : 0,
        this.o.stagingRound ?? STAGE_MAX,
      );
    }
    const M = this.pool.buffer(sc.dirs.length);
    this.engine = new Engine(sc, this.fileFds, this.pool.sizes, {
      M,
      dir: {
        startFd: D,
        nofollow: true,
        procCwd: (fd) => `/proc/self/fd/${fd}`,
        processorAs: this.o.processor,
        journal: this.stage ?? undefined,
      },
    });
    if (this.stage) this.stage.dir = this.engine.dirs[0];
    for (const d of this.engine.dirs) this.jobs.push(() => d.restart());
    this.jobs.push(() => this.started());
    this.run();
  }

  private *started(): Steps {
    const st = this.stage;
    if (st) {
      st.named();
      if (st.pos.midLine) {
        this.engine.continueLine();
        this.atNewline = false;
      }
      yield* st.trim();
      yield* st.record(st.pos);
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
    if (this.atNewline && !this.busy && !this.staged()) this.end();
    else this.update();
  }

  /**
   * KILL (svc -k from a host): end now without waiting for a line end: what was read (and
   * staged) is written (a partial line ends as at the end of input), the rest stays in the pipe.
   */
  kill(): void {
    this.killed = true;
    if (this.state === "running" && !this.busy && !this.staged()) this.end();
    else this.stop();
  }

  /** Staged input not yet processed (read already: it is written before any end). */
  private staged(): boolean {
    return this.stage !== null && this.stage.rp < this.stage.end;
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Watch the pipe exactly when this logger wants to read. */
  private update(): void {
    const want = this.state === "running" && !this.busy && !this.held &&
      this.jobs.length === 0;
    if (want && !this.watching) {
      this.watching = true;
      const e = this.stage !== null
        ? this.r.watch(this.o.fd, (ev) => this.around(() => this.lookAhead(ev)), EPOLLIN | EPOLLET)
        : this.r.watch(this.o.fd, () => this.around(() => this.readable()));
      if (e !== 0) {
        this.watching = false;
        warnSys(P, "unable to watch the log pipe", e);
      } else if (this.staged()) {
        // staged input to process first: no edge of the pipe may come to start it
        this.lookLater(0);
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
   * Lossless reading: what is staged and not yet processed first (also what a crashed host
   * left, replayed); when all is, splice the pipe's head into the staging file (appended) and
   * process it from there. A batch job writes `current`. Edge-triggered: a new write wakes us; a
   * turn that ends with bytes left comes back by itself. The end of the writers (EPOLLHUP) comes
   * once: `events` goes on to the next turn, and a pipe emptied after it is read again (for the
   * end) instead of waited on. After TERM the pipe is read a byte at a time, as 0.76 reads.
   */
  private lookAhead(events: number): void {
    const st = this.stage!;
    const hup = (events & EPOLLHUP) !== 0;
    let drained = false;
    for (let got = 0; got < TURN;) {
      if (this.state !== "running" || this.busy || this.held) return;
      const e = this.engine;
      const M = e.M;
      if (st.rp === st.end) {
        // all that was read is written: an end here, or more from the pipe
        if ((this.term && this.atNewline) || this.killed) return this.end();
        if (drained && !hup) return; // a new write wakes us
        if (st.due()) {
          this.jobs.push(() => st.rewind());
          this.run();
          continue;
        }
        const want = this.term ? 1 : e.inputSize;
        const w = sys.spliceAt(this.o.fd, st.fd, st.end, want);
        if (w < 0) {
          const err = sys.lastErr();
          if (err === EAGAIN) return;
          if (err === EINTR) continue;
          // the staging file's side (a full disk?): nothing moved; try again after a pause
          this.jobs.push(() => this.stall(err));
          this.run();
          continue;
        }
        if (w === 0) return this.end(); // no writer left and the pipe empty
        st.end += w;
        drained = w < want; // the pipe held less than asked for
      }
      const n = sys.pread(st.fd, M.subarray(0, Math.min(e.inputSize, st.end - st.rp)), st.rp);
      if (n <= 0) {
        warnSys(P, `unable to read ${st.name}, dropping what it holds`, sys.lastErr());
        st.rp = st.end;
        st.pos = { off: st.end, midLine: e.midLine };
        continue;
      }
      e.unpark();
      const used = e.process(0, n, true);
      e.park();
      if (used === 0) break; // cannot happen (the region is empty here): no spinning
      this.atNewline = M[used - 1] === 10;
      st.rp += used;
      this.jobs.push(this.batch.bind(this, st.rp - e.partialInput, e.midLine));
      this.run();
      got += used;
    }
    // the turn is over with bytes left: come back after the others (no edge will come)
    this.lookLater(events);
  }

  /** A lossless turn after the others' (no edge will come), if still watching then. */
  private lookLater(events: number): void {
    this.r.soon(() => {
      if (this.watching) this.around(() => this.lookAhead(events));
    });
  }

  /** The staging file could not take a splice (`err`): wait, then read again. */
  private *stall(err: number): Steps {
    sys.setErr(err);
    yield this.stage!.paused();
  }

  /**
   * One lossless batch: write `current`; then the region is empty and the input not in
   * `current` begins at staging offset `off`, inside a line or not.
   */
  private *batch(off: number, midLine: boolean): Steps {
    yield* this.engine.dirs[0].commitSteps();
    this.stage!.pos = { off, midLine };
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
    if (this.stage) {
      // the partial line is written now (with 0.76's newline)
      this.jobs.push(() => this.batch(this.stage!.rp, false));
      this.jobs.push(() => e.dirs[0].quit());
      this.jobs.push(() => this.stage!.closing());
    } else {
      for (const d of e.dirs) this.jobs.push(() => d.commitSteps());
      for (const d of e.dirs) this.jobs.push(() => d.quit());
    }
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
    if (this.o.staging !== undefined && this.o.staging >= 0) sys.close(this.o.staging);
    this.stage = null;
    if (this.engine) { for (const d of this.engine.dirs) d.close(); }
  }

  // ---- the jobs: steps carried out without blocking ------------------------------------

  /** Carry out jobs until one has to wait (then it continues from a callback) or none is left. */
  private run(): void {
    if (this.busy) return;
    let g: Steps | null = null;
    let val: number | Outcome = 0;
    const step = (): void => this.around(turn);
    const turn = (): void => {
      for (;;) {
        if (g === null) {
          const job = this.jobs.shift();
          if (job === undefined) {
            this.busy = false;
            this.unrelocate();
            // a TERM that came while busy, at a line end
            if (
              this.term && (this.atNewline || this.killed) && this.state === "running" &&
              !this.staged()
            ) {
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
        // it waits: the shared buffer is someone else's until it is back, and nothing is read
        this.update();
        this.relocate();
        this.wait(r.value, (v) => {
          val = v;
          if (this.state !== "ended") step();
        });
        return;
      }
    };
    // no unwatch while the jobs go on synchronously (no callback can come in between): only
    // when one has to wait; an unwatch and watch per batch cost an epoll round trip each
    this.busy = true;
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
