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
 * @module
 */
import { fatalSys, line, warn, warnSys, writeErr } from "../msg.ts";
import { ENOENT } from "../errors.ts";
import { LOCK_EX, LOCK_NB } from "../libc.ts";
import * as sys from "./sys.ts";
import { pause } from "./sys.ts";
import { stampNow } from "./stamp.ts";
import { runProcessor } from "./processor.ts";
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

  /**
   * @param M shared byte buffer; this directory owns `M[base, base+cap)` and needs
   *   `M[base-1]` to hold a newline (a stop for backward searches)
   */
  constructor(
    readonly M: Uint8Array,
    readonly base: number,
    readonly cap: number,
    readonly dir: string,
    readonly size: number,
    readonly num: number,
    readonly processor: string | null,
  ) {}

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
    for (const r of this.rot) {
      this.writeOut(this.written, r);
      this.written = r;
      this.fullcurrent();
    }
    this.rot.length = 0;
    this.writeOut(this.written, this.chunked);
    if (this.chunked > 0) {
      const b = this.base;
      this.M.copyWithin(b, b + this.chunked, b + this.len);
      this.len -= this.chunked;
      this.chunked = 0;
    }
    this.written = 0;
  }

  private writeOut(from: number, to: number): void {
    while (from < to) {
      const w = sys.write(this.fdcur, this.M.subarray(this.base + from, this.base + to));
      if (w > 0) {
        from += w;
        continue;
      }
      pause(`unable to write to ${this.dir}/current, pausing`);
    }
  }

  private cd(): void {
    while (sys.fchdir(this.fddir) < 0) pause(`unable to switch to ${this.dir}, pausing`);
  }

  /** Rotate now if `current` is not empty (SIGALRM). Pending bytes must be committed. */
  forceRotate(): void {
    if (this.bytes > 0) {
      this.fullcurrent();
      this.bytes = 0;
    }
  }

  /** 0.76 fullcurrent: current -> previous -> (processor) -> @stamp.s, new current. */
  fullcurrent(): void {
    const d = this.dir;
    this.cd();
    while (sys.fsync(this.fdcur) < 0) pause(`unable to write ${d}/current to disk, pausing`);
    sys.close(this.fdcur);
    while (sys.rename("current", "previous") < 0) {
      pause(`unable to rename current to previous in directory ${d}, pausing`);
    }
    while ((this.fdcur = sys.openAppend("current")) < 0) {
      pause(`unable to create ${d}/current, pausing`);
    }
    while (sys.fchmod(this.fdcur, 0o644) < 0) {
      pause(`unable to set mode of ${d}/current, pausing`);
    }
    while (sys.chmod("previous", 0o744) < 0) {
      pause(`unable to set mode of ${d}/previous, pausing`);
    }
    if (this.processor === null) {
      this.finish("previous", "s");
      return;
    }
    this.runProcessor();
    let fd: number;
    while ((fd = sys.openAppend("processed")) < 0) {
      pause(`unable to create ${d}/processed, pausing`);
    }
    while (sys.fsync(fd) < 0) pause(`unable to write ${d}/processed to disk, pausing`);
    while (sys.fchmod(fd, 0o744) < 0) pause(`unable to set mode of ${d}/processed, pausing`);
    sys.close(fd);
    while ((fd = sys.openAppend("newstate")) < 0) {
      pause(`unable to create ${d}/newstate, pausing`);
    }
    while (sys.fsync(fd) < 0) pause(`unable to write ${d}/newstate to disk, pausing`);
    sys.close(fd);
    while (sys.unlink("previous") < 0) {
      pause(`unable to remove ${d}/previous, pausing`);
    }
    while (sys.rename("newstate", "state") < 0) {
      pause(`unable to rename newstate to state in directory ${d}, pausing`);
    }
    this.finish("processed", "s");
  }

  /** Run the processor until it exits 0, pausing 5 s after each failure (0.76). */
  private runProcessor(): void {
    const d = this.dir;
    for (;;) {
      const r = runProcessor(this.processor!);
      if (r.kind === "exited" && r.code === 0) return;
      if (r.kind === "unstartable") {
        // 0.76's forked child prints this and exits 111
        writeErr(line(P, "fatal", r.text));
      } else if (r.kind === "waitfailed") {
        warnSys(P, `wait failed for processor in ${d}, pausing`, r.errno);
        sys.deepsleep(5);
      } else if (r.kind === "crashed") {
        // 0.76 appends whatever errno is left over from an earlier failure (ENOENT from the
        // start-up stats, EINTR from a read interrupted by ALRM/TERM...): so do we
        pause(`processor crashed in ${d}, pausing`);
      }
      warn(P, `processor failed in ${d}, pausing`);
      sys.deepsleep(5);
      this.cd();
    }
  }

  /** 0.76 finish: hard-link `file` to @stamp.CODE, remove it, prune old files. */
  finish(file: string, code: string): void {
    const d = this.dir;
    let st: Stat | undefined;
    for (;;) {
      st = sys.stat(file);
      if (st) break;
      if (sys.lastErr() === ENOENT) return;
      pause(`unable to stat ${d}/${file}, pausing`);
    }
    if (st.nlink === 1) {
      for (;;) {
        const fn = `${stampName()}.${code}`;
        if (sys.link(file, fn) === 0) break;
        pause(`unable to link to ${d}/${fn}, pausing`);
      }
    }
    while (sys.unlink(file) < 0) pause(`unable to remove ${d}/${file}, pausing`);
    for (;;) {
      const r = this.filesfit();
      if (r === 1) return;
      if (r === -1) pause(`unable to read ${d}, pausing`);
    }
  }

  /** 0.76 filesfit: 1 if fewer than NUM old files, else remove the oldest and return 0. */
  private filesfit(): number {
    const names = sys.names(".");
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
    const again = sys.names(".");
    if (!again) return -1;
    for (const n of again) {
      if (n[0] === 64 && n.length >= 25 && startsWith(n, oldest)) {
        sys.unlink(n);
        break;
      }
    }
    return 0;
  }

  /** 0.76 restart: lock the directory and recover from a crash; fatal errors exit 111. */
  restart(startFd: number): void {
    const d = this.dir;
    const die = (text: string): never => fatalSys(P, text, sys.lastErr());
    if (sys.fchdir(startFd) < 0) die("unable to switch to starting directory");
    sys.mkdir(d, 0o700);
    this.fddir = sys.openRead(d);
    if (this.fddir < 0 || sys.fchdir(this.fddir) < 0) die(`unable to open directory ${d}`);
    this.fdlock = sys.openAppend("lock");
    if (this.fdlock < 0 || sys.flock(this.fdlock, LOCK_EX | LOCK_NB) < 0) {
      die(`unable to lock directory ${d}`);
    }
    const cur = sys.stat("current");
    if (!cur) {
      if (sys.lastErr() !== ENOENT) die(`unable to stat ${d}/current`);
    } else if (cur.mode & 0o100) {
      const fd = sys.openAppend("current");
      if (fd < 0) die(`unable to append to ${d}/current`);
      if (sys.fchmod(fd, 0o644) < 0) die(`unable to set mode of ${d}/current`);
      this.fdcur = fd;
      this.bytes = cur.size;
      return;
    }
    sys.unlink("state");
    sys.unlink("newstate");
    let flagprocessed = false;
    const pr = sys.stat("processed");
    if (!pr) {
      if (sys.lastErr() !== ENOENT) die(`unable to stat ${d}/processed`);
    } else if (pr.mode & 0o100) flagprocessed = true;
    if (flagprocessed) {
      sys.unlink("previous");
      this.finish("processed", "s");
    } else {
      sys.unlink("processed");
      this.finish("previous", "u");
    }
    this.finish("current", "u");
    const fd = sys.openTrunc("state");
    if (fd < 0) die(`unable to write to ${d}/state`);
    sys.close(fd);
    this.fdcur = sys.openAppend("current");
    if (this.fdcur < 0) die(`unable to write to ${d}/current`);
    if (sys.fchmod(this.fdcur, 0o644) < 0) die(`unable to set mode of ${d}/current`);
    this.bytes = 0;
  }

  /** 0.76 c_quit for this directory (after the last commit): fsync, mode 0744. */
  quit(): void {
    const d = this.dir;
    while (sys.fsync(this.fdcur) < 0) pause(`unable to write ${d}/current to disk, pausing`);
    while (sys.fchmod(this.fdcur, 0o744) < 0) {
      pause(`unable to set mode of ${d}/current, pausing`);
    }
  }
}
