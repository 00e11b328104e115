/**
 * A multilog run inside another process (svscan) on its reactor: many of them share one
 * buffer and one event loop. Same line engine, log directory code and files as the standalone
 * program (lib/multilog/engine.ts, logdir.ts); what differs is the driver:
 *
 * - input: the log pipe's read end (held by the host), read when epoll says so, at most 256
 *   KiB per wake-up and logger (bounded work, fairness); for a one-directory script with a
 *   staging file, losslessly: looked at with tee(2), moved out only into the staging file, and
 *   `current` cut back and the staged input replayed after a crash of the host (`Stage`);
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

  /** the private pipe lossless loggers tee the head of their log pipe into, or null */
  private privPipe: [number, number] | null = null;
  /** its capacity: a tee copies at most this much */
  privSize = 65536;
  /** counts the reads into the buffer's input area (what is there is the newest read's) */
  gen = 0;

  /**
   * The private pipe (created at first use, grown to hold a whole input chunk), or undefined
   * with sys.lastErr(). Empty between turns: one for all loggers.
   */
  priv(): [number, number] | undefined {
    if (this.privPipe === null) {
      const p = sys.pipe();
      if (p === undefined) return undefined;
      sys.fcntl(p[1], F_SETPIPE_SZ, INPUT); // fewer, larger tees; errors ignored
      const size = sys.fcntl(p[1], F_GETPIPE_SZ, 0);
      if (size > 0) this.privSize = size;
      this.privPipe = p;
    }
    return this.privPipe;
  }

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
   * losslessly across a crash of the host: looked at with tee(2), moved out of the pipe only
   * into the staging file, `current` cut back and the staged input replayed by the next logger
   * (docs/multilog.md, "Lossless across a crash of the host"). Without it, or for another
   * script, the logger reads the pipe with read(2).
   */
  staging?: number;
  /** the staging file's name for messages (default `supervise/hosted-input`) */
  stagingName?: string;
  /** staged bytes after which the staging file is used from its start again (tests: small) */
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
 * when all staged input is in `current` and more than this is staged, the next batch goes to
 * HDR again, over the pages of the last round (allocating and freeing them cost more than
 * the copy)
 */
const STAGE_MAX = 1 << 20;
const MAGIC = 0x4c4d5444;
const MAGIC2 = 0x324d5444;
const ROTATING = 1;
const MIDLINE = 2;
const CLEAN = 4;
/** a splice into the staging file may be under way: at `end`, `k` bytes, told by `marks` */
const PENDING = 8;
/** ... and the file ends where it began: its size tells how much landed */
const SIZED = 16;
const PAGE = 4096;
const MAX_MARKS = SLOT - 60;
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

/** What a file holds before a splice into it, as far as its writer knows. */
export interface Prior {
  /** the file's size: a byte at or after it is not there (read as missing after a crash) */
  end: number;
  /** the byte at page start `p` (below `end`), or -1 when not known */
  byte(p: number): number;
}

/** single-byte marks written at most; with more, the whole range is written once */
const MAX_SINGLE = 8;

/**
 * A {@linkcode Prior} a logger keeps of its staging file: the size, and the first byte of each
 * page it spliced (2 bytes a page of the table, made at the first one).
 */
class Known implements Prior {
  end = Infinity;
  /** by page: the first byte, or -1 */
  private first: Int16Array | null = null;

  /** @param pages how many pages from the file's start are kept (the rest are not known) */
  constructor(private readonly pages: number) {}

  byte(p: number): number {
    const i = p / PAGE;
    if (p % PAGE !== 0 || this.first === null || i >= this.pages) return -1;
    return this.first[i];
  }

  /** Page start `p` holds `b` now. */
  set(p: number, b: number): void {
    const i = p / PAGE;
    if (i >= this.pages) return;
    this.first ??= new Int16Array(this.pages).fill(-1);
    this.first[i] = b;
  }

  /** The file was cut at `at`. */
  cut(at: number): void {
    this.end = at;
    this.first?.fill(-1, Math.ceil(at / PAGE));
  }
}

/**
 * Before a splice of `input[0, k)` into `fd` at `at`: make sure the byte at `at` and at each
 * page start in the range differs from the one the splice will put there, and return those
 * bytes (the marks), or null when they could not be written (or are too many for a header).
 * With `prior`, a byte already different (the file's last round) or not there at all (past
 * its end) is left as it is and only the others are written, one byte each; without it, or
 * when more than a few are needed, the range is written once with those bytes inverted.
 * `input` is left as it was.
 */
export function markSplice(
  fd: number,
  at: number,
  input: Uint8Array,
  k: number,
  prior?: Prior,
): Uint8Array | null {
  const ps = pieces(at, k);
  if (ps.length > MAX_MARKS) return null;
  const marks = new Uint8Array(ps.length);
  if (prior !== undefined) {
    const need: number[] = [];
    for (let i = 0; i < ps.length && need.length <= MAX_SINGLE; i++) {
      const p = ps[i];
      const b = input[p - at];
      const was = p < prior.end ? prior.byte(p) : b ^ 0xff;
      if (was >= 0 && was !== b) marks[i] = was;
      else {
        marks[i] = b ^ 0xff;
        need.push(i);
      }
    }
    if (need.length <= MAX_SINGLE) {
      for (const i of need) {
        if (sys.pwrite(fd, marks.subarray(i, i + 1), ps[i]) !== 1) return null;
      }
      return marks;
    }
  }
  for (let i = 0; i < ps.length; i++) input[ps[i] - at] = marks[i] = input[ps[i] - at] ^ 0xff;
  const w = sys.pwrite(fd, input.subarray(0, k), at);
  for (let i = 0; i < ps.length; i++) input[ps[i] - at] ^= 0xff;
  return w === k ? marks : null;
}

/**
 * How much of a splice of `k` bytes into `fd` at `at`, marked by {@linkcode markSplice}, had
 * landed: up to the first mark still there (the kernel writes a splice into a file page by
 * page, in order).
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
 * staging file (consumed and kept in one call). Before anything changes `current`, a header
 * records {inode of `current`, its size S0, where the input not yet in it begins, whether that
 * is inside a line, where the staged input ends}; a new logger after a crash cuts `current`
 * back to S0 and replays the staged input from there (lib/multilog/logdir.ts calls
 * {@linkcode recover}). Headers go to two alternating checksummed slots, so a torn one leaves
 * the previous, still true.
 *
 * The file is used round and round (its pages are reused: allocating and freeing them each
 * MiB cost more than copying into them), so its size does not say where the staged input ends,
 * and a splice cut short by the host's death must be measured otherwise: before it, the byte
 * at its start and at each page start in it is made to differ from the one the splice will put
 * there (written only where the file's last round does not already differ:
 * {@linkcode markSplice}), and those bytes go into the header. The kernel writes a splice into
 * a file page by page, in order; after a crash, the first such byte still as recorded is where
 * it stopped.
 * Where the input's bytes are not at hand (the last batch at the end, the shared buffer used by
 * another logger in between, a failed write), the file is cut at the start instead and its
 * size tells.
 */
class Stage implements Journal {
  /** end of the staged input */
  end = HDR;
  /** staged input before this was given to the engine */
  rp = HDR;
  /** where the input not yet in `current` begins (the start of the output region) */
  pos: Pos = { off: HDR, midLine: false };
  /** the position after a rotation point, between rotating() and opened() */
  private next: Pos | null = null;
  private seq = 0;
  private ino = 0;
  /** the splice under way: its start, length, and marks (null: the file's size tells) */
  private pending: { at: number; k: number; marks: Uint8Array | null } | null = null;
  /**
   * What the file holds, for the marks; pages past a round and a batch or two are not kept (the
   * file goes past the round only while input waits to be written to `current`)
   */
  private readonly known: Known;
  /** the first bytes the splice under way puts at page starts: [offset, byte, ...] */
  private landing: number[] = [];
  private readonly rec = new Uint8Array(SLOT);
  private readonly dv = new DataView(this.rec.buffer);
  dir!: LogDir;

  constructor(
    readonly fd: number,
    readonly name: string,
    readonly stampLen: number,
    readonly round: number,
  ) {
    this.known = new Known(Math.ceil((HDR + round + 4 * INPUT) / PAGE));
  }

  private static sum(b: Uint8Array, n: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
    return h >>> 0;
  }

  /** The staged input's extent and the newest valid header, if any. */
  private load(): { ino: number; s0: number; pos: Pos; flags: number } | undefined {
    const st = fstat(this.fd);
    const size = typeof st === "number" ? 0 : st.size;
    this.known.end = size;
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

  /** Write a header (alternate slot) saying `current` is `S0` bytes and input from `p` on. */
  private write(s0: number, p: Pos, flags: number): number {
    this.seq = (this.seq + 1) >>> 0;
    const at = SLOT0 + (this.seq & 1) * SLOT;
    const dv = this.dv;
    const q = this.pending;
    this.rec.fill(0);
    dv.setUint32(0, MAGIC2, true);
    dv.setUint32(4, this.seq, true);
    dv.setFloat64(8, this.ino, true);
    dv.setFloat64(16, s0, true);
    dv.setFloat64(24, p.off, true);
    if (q) flags |= PENDING | (q.marks ? 0 : SIZED);
    dv.setUint32(32, flags | (p.midLine ? MIDLINE : 0), true);
    dv.setFloat64(40, q ? q.at : this.end, true);
    if (q) {
      dv.setUint32(48, q.k, true);
      if (q.marks) {
        dv.setUint32(52, q.marks.length, true);
        this.rec.set(q.marks, 56);
      }
    }
    dv.setUint32(SLOT - 4, Stage.sum(this.rec, SLOT - 4), true);
    return sys.pwrite(this.fd, this.rec, at);
  }

  /** Record the state: `current` as it is now, the input not in it from `p` on. */
  *record(p: Pos, flags = 0): Steps {
    while (this.write(this.dir.curSize, p, flags) < 0) {
      yield { kind: "pause", text: `unable to write to ${this.name}, pausing` };
    }
  }

  /** The inode of the (new) `current`. */
  named(): void {
    const st = fstat(this.dir.fdcur);
    this.ino = typeof st === "number" ? 0 : st.ino;
  }

  /**
   * Before the splice of the `k` bytes at the pipe's head (also `input[0, k)`, or null when
   * they are not at hand): where they go (HDR again when all staged input is in `current` and
   * the round is long enough), then the marks written there, or the file cut there; then the
   * record.
   */
  *checkpoint(k: number, input: Uint8Array | null): Steps {
    if (this.pos.off === this.end && this.end - HDR > this.round) {
      this.end = this.rp = HDR;
      this.pos = { off: HDR, midLine: this.pos.midLine };
    }
    this.pending = null;
    this.landing.length = 0;
    if (k > 0) {
      const at = this.end;
      let marks: Uint8Array | null = null;
      if (input !== null) {
        marks = markSplice(this.fd, at, input, k, this.known);
        if (marks !== null) {
          for (const p of pieces(at, k)) if (p % PAGE === 0) this.landing.push(p, input[p - at]);
        }
      }
      if (marks === null) yield* this.cut(at);
      this.pending = { at, k, marks };
    }
    yield* this.record(this.pos);
  }

  /** The file ends at `at` (its size then tells how much of a splice landed). */
  private *cut(at: number): Steps {
    while (sys.ftruncate(this.fd, at) < 0) {
      yield { kind: "pause", text: `unable to write to ${this.name}, pausing` };
    }
    this.known.cut(at);
  }

  /** The page starts below `end` of the splice under way hold its bytes now. */
  private landed(end: number): void {
    const L = this.landing;
    for (let j = 0; j < L.length && L[j] < end; j += 2) this.known.set(L[j], L[j + 1]);
    L.length = 0;
    this.known.end = Math.max(this.known.end, end);
  }

  /** A splice came back short without a crash: the rest is measured by the file's size. */
  *cutShort(k: number): Steps {
    this.landed(this.end);
    yield* this.cut(this.end);
    this.pending = { at: this.end, k, marks: null };
    yield* this.record(this.pos);
  }

  /** The splice is over (the next record says where the staged input ends). */
  spliced(): void {
    this.landed(this.end);
    this.pending = null;
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
  /** lossless (tee, process the copy, stage, write): the journal and staging file */
  private stage: Stage | null = null;
  /** lossless: bytes at the head of the log pipe processed already (a partial line) */
  private ahead = 0;

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
    if (
      this.o.staging !== undefined && losslessScript(sc)
    ) {
      if (this.pool.priv() === undefined) {
        warnSys(P, "unable to create pipe, reading without look-ahead", sys.lastErr());
      } else {
        this.stage = new Stage(
          this.o.staging,
          this.o.stagingName ?? STAGING,
          sc.timestamp ? STAMP_LEN : 0,
          this.o.stagingRound ?? STAGE_MAX,
        );
      }
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
      yield* st.record(st.pos);
      // staged input to replay first: no edge of the pipe may come to start it
      if (st.rp < st.end) {
        this.r.at(performance.now(), () => {
          if (this.watching) this.lookAhead(0);
        });
      }
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
      const e = this.stage !== null
        ? this.r.watch(this.o.fd, (ev) => this.around(() => this.lookAhead(ev)), EPOLLIN | EPOLLET)
        : this.r.watch(this.o.fd, () => this.around(() => this.readable()));
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
      this.pool.gen++;
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
   * Lossless reading: first the staged input a crashed host left (replayed), then the pipe:
   * tee its head into the private pipe and process only the bytes not seen before (the pipe
   * still holds the partial line, processed but not yet staged). A batch job then records the
   * state, moves the processed bytes up to that partial line into the staging file (splice)
   * and writes `current`. Edge-triggered: bytes seen stay in the pipe, so it stays readable;
   * a new write wakes us. The end of the writers (EPOLLHUP) comes once: `events` goes on to
   * the next turn, and a pipe emptied after it is read again (for the end) instead of waited on.
   */
  private lookAhead(events: number): void {
    const st = this.stage!;
    const hup = (events & EPOLLHUP) !== 0;
    for (let got = 0; got < TURN;) {
      if (this.state !== "running" || this.busy || this.held) return;
      const e = this.engine;
      const M = e.M;
      const staged = st.rp < st.end;
      let seen = 0;
      let n: number;
      let drained = false;
      if (staged) {
        n = sys.pread(this.fd(), M.subarray(0, Math.min(e.inputSize, st.end - st.rp)), st.rp);
        this.pool.gen++;
        if (n <= 0) {
          warnSys(P, `unable to read ${st.name}, dropping what it holds`, sys.lastErr());
          st.rp = st.end;
          st.pos = { off: st.end, midLine: e.midLine };
          continue;
        }
      } else {
        const [pr, pw] = this.pool.priv()!;
        seen = this.ahead;
        const want = Math.min(e.inputSize, this.pool.privSize);
        n = sys.tee(this.o.fd, pw, want);
        if (n < 0) {
          const err = sys.lastErr();
          if (err === EINTR || err === EAGAIN) return;
          return this.end();
        }
        if (n === 0) return this.end();
        this.pool.gen++;
        for (let off = 0; off < n;) {
          const r = sys.read(pr, M.subarray(off, n));
          if (r <= 0) return this.end(); // cannot happen: the copy is there
          off += r;
        }
        if (n <= seen) {
          // nothing new: the partial line only; with every writer gone that is the end
          if (hup) return this.end();
          return;
        }
        drained = n < want; // the pipe held less than asked for
      }
      let end = n;
      if (this.term) {
        const nl = M.subarray(seen, n).indexOf(10);
        if (nl >= 0) end = seen + nl + 1;
      }
      e.unpark();
      const stop = e.process(seen, end, true);
      e.park();
      const used = stop - seen;
      if (used === 0) break; // cannot happen (the region is empty here): no spinning
      this.atNewline = M[stop - 1] === 10;
      const partial = e.partialInput;
      let k = 0;
      let stagedPartial = partial;
      if (staged) st.rp += used;
      else {
        this.ahead += used;
        const pp = Math.min(partial, this.ahead);
        k = this.ahead - pp;
        stagedPartial = partial - pp;
      }
      const midLine = e.midLine;
      const gen = this.pool.gen;
      this.jobs.push(() => this.batch(k, stagedPartial, midLine, gen));
      if (this.term && this.atNewline) return this.end();
      this.run();
      // no writer left: no edge will come, read on until the pipe says so
      if ((this.term || (drained && stop === end)) && !hup) return;
      got += used;
    }
    // the turn is over with bytes left: come back after the others (no edge will come)
    this.r.at(performance.now(), () => {
      if (this.watching) this.around(() => this.lookAhead(events));
    });
  }

  private fd(): number {
    return this.stage!.fd;
  }

  /**
   * One lossless batch: record the state, move the `k` processed bytes (up to the partial line;
   * -1: all) from the pipe into the staging file, write `current`; then the region is empty and
   * the input not in `current` begins `stagedPartial` bytes before the staged end. `gen`: the
   * shared buffer's generation when its input area held the pipe's head (see
   * {@linkcode Stage.checkpoint}).
   */
  private *batch(k: number, stagedPartial: number, midLine: boolean, gen = -1): Steps {
    const st = this.stage!;
    if (k < 0) k = this.ahead; // the end: everything processed
    yield* st.checkpoint(k, gen === this.pool.gen ? this.engine.M : null);
    while (k > 0) {
      const w = sys.spliceAt(this.o.fd, st.fd, st.end, k);
      if (w > 0) {
        st.end += w;
        st.rp += w;
        this.ahead -= w;
        k -= w;
        // short (a full disk?): the rest may begin inside a page, which the marks cannot tell
        if (k > 0) yield* st.cutShort(k);
        continue;
      }
      yield { kind: "pause", text: `unable to write to ${st.name}, pausing` };
    }
    st.spliced();
    yield* this.engine.dirs[0].commitSteps();
    st.pos = { off: st.rp - stagedPartial, midLine };
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
      // the partial line is written now (with 0.76's newline): stage all that was processed
      this.jobs.push(() => this.batch(-1, 0, false));
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
