/**
 * multilog's line engine: splits input into lines exactly as 0.76's `doit()` does, stamps
 * them, runs the per-line actions and hands selected lines to the log directories.
 *
 * All bytes live in one ArrayBuffer (`M`): the input chunk, 0.76's 1001-byte `line`, the
 * current stamp and one region per log directory, so lines move with `copyWithin` and
 * nothing is allocated per line. Input arrives in large reads; 0.76 reads 1024 bytes at a
 * time and flushes its directory buffers before every read, which (through the SIZE-2000
 * rule) decides where files are cut, so the engine replays those 1024-byte read boundaries
 * ("virtual reads") to cut the same files.
 * @module
 */
import { type DirOptions, LogDir } from "./logdir.ts";
import { match } from "./match.ts";
import { type Action, type Script } from "./script.ts";
import { STAMP_LEN, stampNow } from "./stamp.ts";
import * as sys from "./sys.ts";

const LINE_MAX = 1000; // 0.76: char line[1001], at most 1000 bytes matched
const VREAD = 1024; // 0.76: char inbuf[1024]
const EMAX = 200; // `e` prints at most 200 bytes

/** Sizes of the shared buffer's regions. */
export interface Sizes {
  /** largest read */
  input: number;
  /** pending output per directory */
  output: number;
}

/** Where an engine keeps its bytes and how its directories work (hosted loggers). */
export interface EngineOptions {
  /**
   * A buffer shared with other engines of the same sizes (at least {@linkcode bytesNeeded}):
   * the caller keeps each engine's regions empty between its turns ({@linkcode Engine.park}).
   */
  M?: Uint8Array;
  /** passed to every log directory */
  dir?: DirOptions;
}

/** Bytes of the shared buffer an engine with `dirs` log directories needs. */
export function bytesNeeded(dirs: number, sizes: Sizes): number {
  const end = sizes.input + 1 + LINE_MAX + 1 + STAMP_LEN + EMAX + 4 + dirs * (sizes.output + 1);
  return (end + 3) & ~3;
}

/** The line engine (one per multilog process, or per hosted logger). */
export class Engine {
  /** the shared buffer: [input+sentinel][line][stamp][e buffer][\n dir0][\n dir1]... */
  readonly M: Uint8Array;
  /** M as 32-bit words, for finding newlines four bytes at a time */
  private readonly W: Uint32Array;
  /** the stamp of the current read, as a view (M.set is the cheapest small copy) */
  private readonly stampView: Uint8Array;
  readonly dirs: LogDir[] = [];
  readonly inputSize: number;
  private readonly LINE: number;
  private readonly STAMP: number;
  private readonly EBUF: number;
  private readonly actions: Action[];
  /** no action besides log directories: every line goes everywhere */
  private readonly fast: boolean;
  private readonly stampLen: number;
  /**
   * a region holding more than this may not take one more 1024-byte read, all of it newlines
   * (see low): its size less twice that read's worst case
   */
  private readonly lowLen: number;
  private linelen = 0;
  private long = false;
  private nextB = 0;

  /**
   * @param fileFds descriptors of the `=FILE` actions, by Action index
   */
  constructor(
    script: Script,
    private readonly fileFds: number[],
    sizes: Sizes,
    opts: EngineOptions = {},
  ) {
    this.inputSize = sizes.input;
    this.LINE = sizes.input + 1;
    this.STAMP = this.LINE + LINE_MAX + 1;
    this.EBUF = this.STAMP + STAMP_LEN;
    let end = this.EBUF + EMAX + 4;
    const bases = script.dirs.map(() => {
      const b = end + 1;
      end = b + sizes.output;
      return b;
    });
    end = (end + 3) & ~3;
    if (opts.M && opts.M.length < end) throw new RangeError("shared buffer too small");
    this.M = opts.M ?? new Uint8Array(end);
    this.W = new Uint32Array(this.M.buffer, this.M.byteOffset, this.M.length >> 2);
    this.stampView = this.M.subarray(this.STAMP, this.STAMP + STAMP_LEN);
    this.M.fill(10, this.LINE, this.LINE + LINE_MAX + 1);
    script.dirs.forEach((d, i) => {
      this.M[bases[i] - 1] = 10;
      this.dirs.push(
        new LogDir(this.M, bases[i], sizes.output, d.dir, d.size, d.num, d.processor, opts.dir),
      );
    });
    this.actions = script.actions;
    this.fast = script.actions.every((a) => a.kind === "dir");
    this.stampLen = script.timestamp ? STAMP_LEN : 0;
    this.lowLen = sizes.output - 2 * (VREAD * (1 + this.stampLen) + LINE_MAX + 64);
  }

  /** Bytes per input byte this engine may put into a directory region (stamps). */
  get expansion(): number {
    return 1 + this.stampLen;
  }

  /** The partial line of a parked engine (hosted loggers sharing `M`), or null. */
  private parked: Uint8Array | null = null;

  /** The input starts inside a line already written in part (lossless hosting after a crash). */
  continueLine(): void {
    this.long = true;
  }

  /** Keep the partial line aside: another engine may use the shared buffer now. */
  park(): void {
    if (this.linelen === 0) return;
    this.parked ??= new Uint8Array(LINE_MAX);
    this.parked.set(this.M.subarray(this.LINE, this.LINE + this.linelen));
    this.M.fill(10, this.LINE, this.LINE + this.linelen);
  }

  /** Put the partial line back into the shared buffer before processing. */
  unpark(): void {
    if (this.linelen === 0 || this.parked === null) return;
    this.M.set(this.parked.subarray(0, this.linelen), this.LINE);
  }

  /**
   * Position of the first newline at or after `pos` (the read's sentinel bounds it):
   * a word at a time, with the classic "has a zero byte" test on word ^ 0x0a0a0a0a.
   */
  private nl(pos: number): number {
    const M = this.M;
    while (pos & 3) {
      if (M[pos] === 10) return pos;
      pos++;
    }
    const W = this.W;
    let i = pos >> 2;
    for (;;) {
      const v = W[i] ^ 0x0a0a0a0a;
      if (((v - 0x01010101) & ~v & 0x80808080) !== 0) break;
      i++;
    }
    pos = i << 2;
    while (M[pos] !== 10) pos++;
    return pos;
  }

  /** Input bytes of a line begun but not yet put anywhere (judged at its end), else 0. */
  get partialInput(): number {
    return this.long || this.linelen === 0 ? 0 : this.linelen - this.stampLen;
  }

  /** The output of the directories ends inside a line (a long line, put as it comes). */
  get midLine(): boolean {
    return this.long;
  }

  /**
   * Some directory's region may not hold what one more 1024-byte read could add. Asked at
   * the lines of a hosted lossless batch that cross a read boundary: an indexed loop and one
   * comparison (a for-of and a subtraction at every line cost a few % of its CPU).
   */
  private low(): boolean {
    const dirs = this.dirs;
    for (let j = 0; j < dirs.length; j++) if (dirs[j].len > this.lowLen) return true;
    return false;
  }

  /**
   * Process M[start, end) (one read); `now` is stamped once for the whole read. With
   * `stopLow`, stop early at a 1024-byte boundary (as if the read had ended there) once a
   * directory's region is nearly full, instead of writing in the middle (a hosted logger must
   * not block there); returns where it stopped (`end` unless it stopped early).
   */
  process(start: number, end: number, stopLow = false): number {
    const M = this.M;
    const dirs = this.dirs;
    const sl = this.stampLen;
    M[end] = 10; // sentinel: indexOf never runs past the read
    if (sl) stampNow(M, this.STAMP);
    this.nextB = start + VREAD;
    let pos = start;
    /** the input byte under an early stop's sentinel, restored at the end */
    let under = -1;
    while (pos < end) {
      if (this.long) {
        const nl = this.nl(pos);
        if (stopLow) {
          const b = this.longRunUntilLow(pos, nl);
          if (b >= 0) {
            under = M[b];
            end = b;
            break;
          }
        } else this.longRun(pos, nl);
        if (nl < end) {
          this.cross(nl);
          this.newline();
          this.endLine();
          pos = nl + 1;
        } else pos = end;
        continue;
      }
      const nl = this.nl(pos);
      if (stopLow && under < 0 && nl >= this.nextB && this.low()) {
        // the line ahead reaches the next read boundary and room is short: stop there (a
        // sentinel over the boundary's byte, as if the read had ended); room is asked only
        // here, at lines that cross a boundary, not at every line
        end = this.nextB;
        under = M[end];
        M[end] = 10;
        continue;
      }
      if (this.linelen === 0) {
        const n = nl - pos;
        if (this.fast && nl < end && n + sl < LINE_MAX) {
          // a whole short line inside this read: straight to every directory
          if (nl >= this.nextB) this.cross(nl);
          const len = sl + n;
          for (let j = 0; j < dirs.length; j++) {
            const d = dirs[j];
            if (d.len + len + 1 > d.cap) d.commit();
            let at = d.base + d.len;
            if (sl) {
              M.set(this.stampView, at);
              at += sl;
            }
            M.copyWithin(at, pos, nl);
            M[at + n] = 10;
            d.len += len;
            d.put(len);
            d.len++;
            d.putc(1);
          }
          pos = nl + 1;
          continue;
        }
        if (sl) {
          M.set(this.stampView, this.LINE);
          this.linelen = sl;
        }
      }
      const room = LINE_MAX - this.linelen;
      const avail = nl - pos;
      if (avail >= room) {
        // the line reaches 1000 bytes: judge it now, stream the rest (0.76's long lines)
        M.copyWithin(this.LINE + this.linelen, pos, pos + room);
        this.linelen = LINE_MAX;
        pos += room;
        this.cross(pos - 1);
        this.selectAndPut();
        this.long = true;
        continue;
      }
      M.copyWithin(this.LINE + this.linelen, pos, nl);
      this.linelen += avail;
      if (nl < end) {
        this.cross(nl);
        this.selectAndPut();
        this.newline();
        this.endLine();
        pos = nl + 1;
      } else pos = end;
    }
    this.flushAll();
    if (under >= 0) M[end] = under;
    return end;
  }

  /**
   * {@linkcode longRun} of [a, e) stopping at the first read boundary where a region is nearly
   * full: returns that boundary (bytes before it are put), or -1 when all went.
   */
  private longRunUntilLow(a: number, e: number): number {
    while (a < e) {
      if (a >= this.nextB) {
        // a is a read boundary (nextB only moves past a line end or a boundary reached)
        if (this.low()) return a;
        this.cross(a);
      }
      const stop = e < this.nextB ? e : this.nextB;
      this.longRun(a, stop);
      a = stop;
    }
    return -1;
  }

  /** End of input (or TERM at a line end): finish a partial line as 0.76 does. */
  eof(): void {
    if (this.long) {
      this.newline();
      this.endLine();
    } else if (this.linelen > 0) {
      this.selectAndPut();
      this.newline();
      this.endLine();
    }
    this.flushAll();
  }

  /** 0.76 flushes every directory buffer before each read. */
  flushAll(): void {
    for (const d of this.dirs) d.flush();
  }

  /** Put everything flushed so far into the files. */
  commitAll(): void {
    for (const d of this.dirs) d.commit();
  }

  /** The byte at `x` is about to be consumed: replay the flushes of the reads before it. */
  private cross(x: number): void {
    if (x >= this.nextB) {
      this.flushAll();
      this.nextB += VREAD * (Math.floor((x - this.nextB) / VREAD) + 1);
    }
  }

  /** Bytes [a, e) of a long line go to the selected directories one PUTC at a time. */
  private longRun(a: number, e: number): void {
    const M = this.M;
    while (a < e) {
      this.cross(a);
      const stop = e < this.nextB ? e : this.nextB;
      for (const d of this.dirs) {
        if (!d.sel) continue;
        let s = a;
        while (s < stop) {
          if (d.len === d.cap) d.commit();
          const k = Math.min(d.cap - d.len, stop - s);
          M.copyWithin(d.base + d.len, s, s + k);
          d.len += k;
          d.putc(k);
          s += k;
        }
      }
      a = stop;
    }
  }

  /** 0.76's PUTC('\n') to the selected directories. */
  private newline(): void {
    for (const d of this.dirs) {
      if (!d.sel) continue;
      if (d.len === d.cap) d.commit();
      this.M[d.base + d.len++] = 10;
      d.putc(1);
    }
  }

  private endLine(): void {
    this.M.fill(10, this.LINE, this.LINE + this.linelen);
    this.linelen = 0;
    this.long = false;
  }

  /** Run the actions on the line (its first 1000 bytes) and put it where selected. */
  private selectAndPut(): void {
    const M = this.M;
    const L = this.LINE;
    const n = this.linelen;
    let sel = true;
    for (const a of this.actions) {
      switch (a.kind) {
        case "+":
          if (!sel && match(a.pat, M, L, n)) sel = true;
          break;
        case "-":
          if (sel && match(a.pat, M, L, n)) sel = false;
          break;
        case "e":
          if (sel) this.errLine();
          break;
        case "=":
          if (sel) this.fileLine(a.index, a.file);
          break;
        case "dir":
          this.dirs[a.index].sel = sel;
          break;
      }
    }
    for (const d of this.dirs) {
      if (!d.sel) continue;
      if (d.len + n + 1 > d.cap) d.commit();
      M.copyWithin(d.base + d.len, L, L + n);
      d.len += n;
      d.put(n);
    }
  }

  /** `e`: the line (at most 200 bytes, then `...`) and a newline on stderr. */
  private errLine(): void {
    const M = this.M;
    const E = this.EBUF;
    const n = this.linelen > EMAX ? EMAX : this.linelen;
    M.copyWithin(E, this.LINE, this.LINE + n);
    let k = n;
    if (this.linelen > EMAX) {
      M[E + k++] = 46;
      M[E + k++] = 46;
      M[E + k++] = 46;
    }
    M[E + k++] = 10;
    let off = 0;
    while (off < k) {
      const w = sys.write(2, M.subarray(E + off, E + k));
      if (w <= 0) break; // 0.76 ignores stderr errors
      off += w;
    }
  }

  /** `=FILE`: the line padded with newlines to 1001 bytes, written at offset 0. */
  private fileLine(i: number, file: string): void {
    const fd = this.fileFds[i];
    const rec = this.M.subarray(this.LINE, this.LINE + LINE_MAX + 1);
    for (;;) {
      while (sys.seekBegin(fd) < 0) sys.pause(`unable to move to beginning of ${file}, pausing`);
      if (sys.write(fd, rec) === LINE_MAX + 1) break;
      sys.pause(`unable to write ${file}, pausing`);
    }
  }
}
