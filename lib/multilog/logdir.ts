/**
 * One automatically rotated log directory (0.76's `cyclog`): start-up recovery, rotation,
 * the processor protocol, old-file pruning, and the exact write-chunking rules that decide
 * where `current` is cut.
 *
 * Data path. Selected lines are appended to this directory's region of the shared byte
 * buffer `M` (no per-line allocation). 0.76 pushes them through a 512-byte buffer whose
 * flushes become `c_write` calls, and `c_write` decides rotation: a write never passes SIZE,
 * and once the file reaches SIZE-2000 a write is cut after its last newline and the file
 * rotates. To produce the same files from the same input, the buffer is *simulated*:
 * `put`/`putc`/`flush` move the `chunked` mark exactly as 0.76's flushes would and record
 * the rotation points; `commit` then writes everything up to `chunked` in large writes,
 * rotating at the recorded points.
 *
 * File system. Every call is relative to the directory's descriptor (`*at`), never chdir, so
 * many directories of many loggers can live in one process; a hosted logger also opens with
 * O_NOFOLLOW and changes modes through descriptors, so a symlink planted in the directory
 * cannot make it write elsewhere. Everything that may wait (0.76's 5-second pauses, fsync, the
 * processor) is a *step* a generator yields ({@linkcode Req}); a driver carries it out: the
 * standalone multilog blocks as 0.76 does ({@linkcode runSync}), a hosted logger uses timers,
 * a pool thread and a pidfd (lib/multilog/hosted.ts). One sequence of operations, two drivers.
 * @module
 */
import { line, warn, warnSys, writeErr } from "../msg.ts";
import { ENOENT } from "../errors.ts";
import { LOCK_EX, LOCK_NB } from "../libc.ts";
import * as sys from "./sys.ts";
import { stampNow } from "./stamp.ts";
import { type Outcome, type ProcessorAs, startProcessor, waitProcessor } from "./processor.ts";
import { startsWith } from "../bytes.ts";
import type { Stat } from "../stat.ts";

const P = "multilog";
const BUFSIZE = 512; // 0.76: struct cyclog's char buf[512]
const OUTSIZE = 8192; // djb buffer: BUFFER_OUTSIZE, the piece size of large puts

const nameBuf = new Uint8Array(26);
/** filesfit's start value, after every name of an old file (`@` + hex digits). */
const OLDEST_NONE = new Uint8Array([64, 122]); // "@z"

/** djb's `str_diff(a, b) < 0`: byte order, a proper prefix first. */
function before(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return a.length < b.length;
}
const latin1 = new TextDecoder("latin1");

/** `@` + TAI64N(now): the name of a finished file, without its `.s`/`.u`. */
function stampName(): string {
  stampNow(nameBuf, 0);
  return latin1.decode(nameBuf.subarray(0, 25));
}

/** What a step of a log directory waits for; the driver answers with a number or an Outcome. */
export type Req =
  /** 0.76's pause: `multilog: warning: TEXT: ERRNO`, then 5 s; the step is retried after */
  | { kind: "pause"; text: string }
  /** a plain 5-second sleep (after a processor failure) */
  | { kind: "sleep" }
  /** fsync(fd): answer 0, or -1 with sys.setErr(errno) */
  | { kind: "fsync"; fd: number }
  /** wait for processor `pid`: answer an Outcome */
  | { kind: "wait"; pid: number };

/** A sequence of operations on a log directory that may wait (see {@linkcode Req}). */
export type Steps<T = void> = Generator<Req, T, number | Outcome>;

/** Carry out steps as 0.76 does: blocking pauses, fsync and waitpid on this thread. */
export function runSync<T>(g: Steps<T>): T {
  let r = g.next(0);
  while (!r.done) {
    const q = r.value;
    if (q.kind === "pause") {
      sys.pause(q.text);
      r = g.next(0);
    } else if (q.kind === "sleep") {
      sys.deepsleep(5);
      r = g.next(0);
    } else if (q.kind === "fsync") r = g.next(sys.fsync(q.fd));
    else r = g.next(waitProcessor(q.pid));
  }
  return r.value;
}

/** Options of a log directory that differ between the standalone and the hosted logger. */
export interface DirOptions {
  /** the starting directory the name is relative to (default: the current directory) */
  startFd?: number;
  /** O_NOFOLLOW on every file opened in the directory; modes set through descriptors */
  nofollow?: boolean;
  /**
   * The processor's working directory, given the directory's descriptor (default: the
   * directory's name, which is relative to the never-changed current directory).
   */
  procCwd?: (fddir: number) => string;
  /** how the processor starts (a hosted logger's account, environment, stderr) */
  processorAs?: ProcessorAs;
  /** Lossless hosting: told about every change of `current` (lib/multilog/hosted.ts). */
  journal?: Journal;
}

/**
 * What a lossless hosted logger records so that a new logger, after a crash of the host, can
 * cut `current` back to a known point and replay the input staged since then.
 */
export interface Journal {
  /**
   * After the lock, before 0.76's recovery: cut `current` back to the recorded size. True:
   * `current` ends inside a line whose rest comes next, keep appending to it (no `.u`).
   */
  recover(dirfd: number): boolean;
  /** `current` is full at region offset `at` (everything before is written): it rotates now. */
  rotating(at: number): Steps;
  /** A new, empty `current` is open (after a rotation). */
  opened(): Steps;
}

/** A failure at start-up: 0.76 prints `multilog: fatal: TEXT: ERRNO` and exits 111. */
export class StartError extends Error {
  constructor(readonly text: string, readonly errno: number) {
    super(text);
  }
}

/** A log directory: its settings, descriptors, simulated 0.76 state and pending bytes. */
export class LogDir {
  /** directory descriptor (0.76 fchdir's to it), lock and `current` descriptors */
  fddir = -1;
  fdlock = -1;
  fdcur = -1;
  /** bytes in `current` as 0.76 counts them (c_write's d->bytes) */
  bytes = 0;
  /** end of the pending bytes in this region (relative to base) */
  len = 0;
  /** bytes before this mark went through simulated c_write calls; the rest is 0.76's buffer */
  chunked = 0;
  /** bytes before this mark are in the file already */
  written = 0;
  /** simulated rotation points (offsets) not yet carried out */
  readonly rot: number[] = [];
  /** selection of the line being processed */
  sel = true;
  /** bytes in the file `current` (what was written; `bytes` runs ahead, simulated) */
  curSize = 0;

  /**
   * @param M shared byte buffer; this directory owns `M[base, base+cap)` and needs
   *   `M[base-1]` to hold a newline (a stop for backward searches)
   */
  constructor(
    public M: Uint8Array,
    public base: number,
    readonly cap: number,
    readonly dir: string,
    readonly size: number,
    readonly num: number,
    readonly processor: string | null,
    readonly opts: DirOptions = {},
  ) {
    this.nf = opts.nofollow ? sys.O_NOFOLLOW : 0;
  }

  /** O_NOFOLLOW or 0 */
  private readonly nf: number;

  // ---- simulation of 0.76's buffer + c_write ---------------------------------------

  /** 0.76 buffer_put of the `n` bytes just appended at [len-n, len). */
  put(n: number): void {
    const s = this.len - n;
    if (n > BUFSIZE - (s - this.chunked)) {
      this.allwrite(this.chunked, s - this.chunked);
      this.chunked = s;
      let k = n;
      let off = s;
      while (k > BUFSIZE) {
        const m = k < OUTSIZE ? k : OUTSIZE;
        this.allwrite(off, m);
        off += m;
        k -= m;
      }
      this.chunked = off;
    }
  }

  /** 0.76 buffer_PUTC of each of the `k` bytes just appended at [len-k, len). */
  putc(k: number): void {
    let f = this.chunked + BUFSIZE;
    const first = this.len - k;
    // a flush happens when a byte arrives at a full buffer
    if (f < first) f = first; // cannot happen: the buffer never holds more than BUFSIZE
    while (f < this.len) {
      this.allwrite(this.chunked, f - this.chunked);
      this.chunked = f;
      f += BUFSIZE;
    }
  }

  /** 0.76 buffer_flush. */
  flush(): void {
    if (this.len > this.chunked) {
      this.allwrite(this.chunked, this.len - this.chunked);
      this.chunked = this.len;
    }
  }

  private allwrite(off: number, k: number): void {
    while (k > 0) {
      const w = this.cwrite(off, k);
      off += w;
      k -= w;
    }
  }

  /** 0.76 c_write on M[base+off, +len), assuming the write succeeds in full. */
  private cwrite(off: number, len: number): number {
    const size = this.size;
    if (this.bytes >= size) this.rotateAt(off);
    if (len >= size - this.bytes) len = size - this.bytes;
    if (this.bytes + len >= size - 2000) {
      const at = this.base + off;
      const nl = this.M.lastIndexOf(10, at + len - 1);
      if (nl >= at) len = nl - at + 1;
    }
    this.bytes += len;
    if (this.bytes >= size - 2000 && this.M[this.base + off + len - 1] === 10) {
      this.rotateAt(off + len);
    }
    return len;
  }

  private rotateAt(off: number): void {
    this.rot.push(off);
    this.bytes = 0;
  }

  // ---- the file system -----------------------------------------------------------------

  /** Write out everything up to `chunked`, rotating where 0.76 would; keep the rest. */
  commit(): void {
    runSync(this.commitSteps());
  }

  /** {@linkcode commit} as steps (a hosted logger drives them; they may wait). */
  *commitSteps(): Steps {
    while (this.rot.length > 0) {
      const r = this.rot[0];
      yield* this.writeOut(r);
      this.rot.shift();
      if (this.opts.journal) yield* this.opts.journal.rotating(r);
      yield* this.fullcurrent();
    }
    yield* this.writeOut(this.chunked);
    if (this.chunked > 0) {
      const b = this.base;
      this.M.copyWithin(b, b + this.chunked, b + this.len);
      this.len -= this.chunked;
      for (let i = 0; i < this.rot.length; i++) this.rot[i] -= this.chunked;
      this.chunked = 0;
    }
    this.written = 0;
  }

  /** Nothing is waiting to be written or rotated. */
  get idle(): boolean {
    return this.len === 0 && this.rot.length === 0;
  }

  private *writeOut(to: number): Steps {
    while (this.written < to) {
      const b = this.base;
      const w = sys.write(this.fdcur, this.M.subarray(b + this.written, b + to));
      if (w > 0) {
        this.written += w;
        this.curSize += w;
        continue;
      }
      yield { kind: "pause", text: `unable to write to ${this.dir}/current, pausing` };
    }
  }

  private *fsync(fd: number, text: string): Steps {
    while ((yield { kind: "fsync", fd }) as number < 0) yield { kind: "pause", text };
  }

  /** Rotate now if `current` is not empty (SIGALRM). Pending bytes must be committed. */
  forceRotate(): void {
    runSync(this.forceRotateSteps());
  }

  /** {@linkcode forceRotate} as steps. */
  *forceRotateSteps(): Steps {
    if (this.bytes > 0) {
      this.bytes = 0;
      if (this.opts.journal) yield* this.opts.journal.rotating(this.written);
      yield* this.fullcurrent();
    }
  }

  /** 0.76 fullcurrent: current -> previous -> (processor) -> @stamp.s, new current. */
  *fullcurrent(): Steps {
    const d = this.dir;
    const D = this.fddir;
    const nf = this.nf;
    const pause = (text: string): Req => ({ kind: "pause", text });
    yield* this.fsync(this.fdcur, `unable to write ${d}/current to disk, pausing`);
    sys.close(this.fdcur);
    this.fdcur = -1;
    while (sys.renameAt(D, "current", "previous") < 0) {
      yield pause(`unable to rename current to previous in directory ${d}, pausing`);
    }
    while ((this.fdcur = sys.openAt(D, "current", "append", nf)) < 0) {
      yield pause(`unable to create ${d}/current, pausing`);
    }
    this.curSize = 0;
    if (this.opts.journal) yield* this.opts.journal.opened();
    while (sys.fchmod(this.fdcur, 0o644) < 0) {
      yield pause(`unable to set mode of ${d}/current, pausing`);
    }
    while (sys.chmodAt(D, "previous", 0o744, nf !== 0) < 0) {
      yield pause(`unable to set mode of ${d}/previous, pausing`);
    }
    if (this.processor === null) {
      yield* this.finish("previous", "s");
      return;
    }
    yield* this.runProcessor();
    let fd: number;
    while ((fd = sys.openAt(D, "processed", "append", nf)) < 0) {
      yield pause(`unable to create ${d}/processed, pausing`);
    }
    yield* this.fsync(fd, `unable to write ${d}/processed to disk, pausing`);
    while (sys.fchmod(fd, 0o744) < 0) yield pause(`unable to set mode of ${d}/processed, pausing`);
    sys.close(fd);
    while ((fd = sys.openAt(D, "newstate", "append", nf)) < 0) {
      yield pause(`unable to create ${d}/newstate, pausing`);
    }
    yield* this.fsync(fd, `unable to write ${d}/newstate to disk, pausing`);
    sys.close(fd);
    while (sys.unlinkAt(D, "previous") < 0) yield pause(`unable to remove ${d}/previous, pausing`);
    while (sys.renameAt(D, "newstate", "state") < 0) {
      yield pause(`unable to rename newstate to state in directory ${d}, pausing`);
    }
    yield* this.finish("processed", "s");
  }

  /** Run the processor until it exits 0, pausing 5 s after each failure (0.76). */
  private *runProcessor(): Steps {
    const d = this.dir;
    const cwd = this.opts.procCwd ? this.opts.procCwd(this.fddir) : d;
    for (;;) {
      const s = startProcessor(this.processor!, this.fddir, cwd, this.opts.processorAs);
      const r: Outcome = s.kind === "started" ? (yield { kind: "wait", pid: s.pid }) as Outcome : s;
      if (r.kind === "exited" && r.code === 0) return;
      if (r.kind === "unstartable") {
        // 0.76's forked child prints this and exits 111
        writeErr(line(P, "fatal", r.text));
      } else if (r.kind === "waitfailed") {
        warnSys(P, `wait failed for processor in ${d}, pausing`, r.errno);
        yield { kind: "sleep" };
      } else if (r.kind === "crashed") {
        // 0.76 appends whatever errno is left over from an earlier failure (ENOENT from the
        // start-up stats, EINTR from a read interrupted by ALRM/TERM...): so do we
        yield { kind: "pause", text: `processor crashed in ${d}, pausing` };
      }
      warn(P, `processor failed in ${d}, pausing`);
      yield { kind: "sleep" };
    }
  }

  /** 0.76 finish: hard-link `file` to @stamp.CODE, remove it, prune old files. */
  *finish(file: string, code: string): Steps {
    const d = this.dir;
    const D = this.fddir;
    let st: Stat | undefined;
    for (;;) {
      st = sys.statAt(D, file, this.nf === 0);
      if (st) break;
      if (sys.lastErr() === ENOENT) return;
      yield { kind: "pause", text: `unable to stat ${d}/${file}, pausing` };
    }
    if (st.nlink === 1) {
      for (;;) {
        const fn = `${stampName()}.${code}`;
        if (sys.linkAt(D, file, fn) === 0) break;
        yield { kind: "pause", text: `unable to link to ${d}/${fn}, pausing` };
      }
    }
    while (sys.unlinkAt(D, file) < 0) {
      yield { kind: "pause", text: `unable to remove ${d}/${file}, pausing` };
    }
    for (;;) {
      const r = this.filesfit();
      if (r === 1) return;
      if (r === -1) yield { kind: "pause", text: `unable to read ${d}, pausing` };
    }
  }

  /** 0.76 filesfit: 1 if fewer than NUM old files, else remove the oldest and return 0. */
  private filesfit(): number {
    const names = sys.names(".", this.fddir);
    if (!names) return -1;
    let count = 0;
    let oldest: Uint8Array = OLDEST_NONE;
    for (const n of names) {
      if (n[0] === 64 && n.length >= 25) {
        count++;
        if (before(n, oldest)) oldest = n.subarray(0, 25);
      }
    }
    if (count < this.num) return 1;
    const again = sys.names(".", this.fddir);
    if (!again) return -1;
    for (const n of again) {
      if (n[0] === 64 && n.length >= 25 && startsWith(n, oldest)) {
        sys.unlinkAt(this.fddir, n);
        break;
      }
    }
    return 0;
  }

  /**
   * 0.76 restart: lock the directory and recover from a crash. A failure 0.76 treats as fatal
   * throws a {@linkcode StartError} (the standalone program prints it and exits 111).
   */
  *restart(): Steps {
    const d = this.dir;
    const nf = this.nf;
    const die = (text: string): never => {
      throw new StartError(text, sys.lastErr());
    };
    const start = this.opts.startFd ?? sys.AT_FDCWD;
    sys.mkdirAt(start, d, 0o700);
    this.fddir = sys.openDirAt(start, d);
    if (this.fddir < 0) die(`unable to open directory ${d}`);
    const D = this.fddir;
    this.fdlock = sys.openAt(D, "lock", "append", nf);
    if (this.fdlock < 0 || sys.flock(this.fdlock, LOCK_EX | LOCK_NB) < 0) {
      die(`unable to lock directory ${d}`);
    }
    const keep = this.opts.journal?.recover(D) ?? false;
    const cur = sys.statAt(D, "current", nf === 0);
    if (!cur) {
      if (sys.lastErr() !== ENOENT) die(`unable to stat ${d}/current`);
    } else if (cur.mode & 0o100) {
      const fd = sys.openAt(D, "current", "append", nf);
      if (fd < 0) die(`unable to append to ${d}/current`);
      if (sys.fchmod(fd, 0o644) < 0) die(`unable to set mode of ${d}/current`);
      this.fdcur = fd;
      this.bytes = this.curSize = cur.size;
      return;
    }
    sys.unlinkAt(D, "state");
    sys.unlinkAt(D, "newstate");
    let flagprocessed = false;
    const pr = sys.statAt(D, "processed", nf === 0);
    if (!pr) {
      if (sys.lastErr() !== ENOENT) die(`unable to stat ${d}/processed`);
    } else if (pr.mode & 0o100) flagprocessed = true;
    if (flagprocessed) {
      sys.unlinkAt(D, "previous");
      yield* this.finish("processed", "s");
    } else {
      sys.unlinkAt(D, "processed");
      yield* this.finish("previous", "u");
    }
    // a lossless host's crash inside a line: the line goes on in this `current`
    if (!(cur && keep)) yield* this.finish("current", "u");
    const fd = sys.openAt(D, "state", "trunc", nf);
    if (fd < 0) die(`unable to write to ${d}/state`);
    sys.close(fd);
    this.fdcur = sys.openAt(D, "current", "append", nf);
    if (this.fdcur < 0) die(`unable to write to ${d}/current`);
    if (sys.fchmod(this.fdcur, 0o644) < 0) die(`unable to set mode of ${d}/current`);
    this.bytes = this.curSize = cur && keep ? cur.size : 0;
  }

  /** 0.76 c_quit for this directory (after the last commit): fsync, mode 0744. */
  *quit(): Steps {
    const d = this.dir;
    yield* this.fsync(this.fdcur, `unable to write ${d}/current to disk, pausing`);
    while (sys.fchmod(this.fdcur, 0o744) < 0) {
      yield { kind: "pause", text: `unable to set mode of ${d}/current, pausing` };
    }
  }

  /** Close every descriptor (a hosted logger that ends; the process's exit does it otherwise). */
  close(): void {
    for (const fd of [this.fdcur, this.fdlock, this.fddir]) if (fd >= 0) sys.close(fd);
    this.fdcur = this.fdlock = this.fddir = -1;
  }
}
