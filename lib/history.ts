/**
 * The exit history a supervisor keeps beside the 18-byte status: `supervise/history`, one line
 * of JSON, replaced atomically (`history.new` + rename) whenever it changes. The status file is
 * untouched, so Debian's tools read the directory as before; a supervisor that keeps no history
 * (Debian's supervise, an older one of ours) simply leaves no such file.
 *
 * ```
 * {"version":1,"since":1732950000.125,"starts":3,"last_exit":{"code":1,"signal":null,"time":1732950100.5},"ready":null}
 * ```
 * - `since`: unix time (seconds, millisecond precision) the counting began: this supervisor's
 *   start, or the start of the one before it when svscan adopted a running service.
 * - `starts`: `./run` started since then (an exec failure counts: 0.76's child ran and exited).
 * - `last_exit`: the last exit of `./run`: exit `code` or killing `signal` (the other null;
 *   both null when the supervisor did not reap it itself: an adopted process is watched
 *   through a pidfd, its wait status goes to its real parent) and its unix `time`; null before
 *   the first exit.
 * - `ready`: unix time the running `./run` reported readiness (`notification-fd`,
 *   docs/lifecycle.md); null when not ready, and again once it ends. Readers ignore fields
 *   they do not know.
 *
 * Readers ({@linkcode decodeHistory}, {@linkcode readHistory}) never fail: a missing,
 * truncated or junk file gives `undefined`, a field of the wrong type gives null for it.
 * @module
 */
import { decode, encode } from "./bytes.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "./libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "./sys.ts";

/** Name of the file in `supervise/`. */
export const HISTORY_FILE = "history";
/** Format version written. */
export const HISTORY_VERSION = 1;
/** A history file is read up to this many bytes (bounded: whatever lies there). */
export const HISTORY_MAX = 4096;

/** How `./run` last ended. */
export interface Exit {
  /** Exit code (0..255), or null (killed by a signal, or not known). */
  code: number | null;
  /** Signal that killed it, or null (exited, or not known). */
  signal: number | null;
  /** Unix time of the exit, seconds. */
  time: number;
}

/** The history of one service's supervision. */
export interface History {
  /** Unix time the counting began, seconds. */
  since: number;
  /** `./run` started since then. */
  starts: number;
  /** The last exit, null before the first. */
  lastExit: Exit | null;
  /** Unix time of the readiness report, null when not tracked (issue 10). */
  ready: number | null;
}

/** What a reader gets: each field null when absent or malformed. */
export interface HistoryRead {
  since: number | null;
  starts: number | null;
  lastExit: Exit | null;
  ready: number | null;
}

/** A time rounded to milliseconds (what the file holds). */
export function roundTime(t: number): number {
  return Math.round(t * 1000) / 1000;
}

/** The exit a wait status (wait4's `wstatus`) describes; undefined: not an exit. */
export function exitOf(wstatus: number, time: number): Exit | undefined {
  const low = wstatus & 0x7f;
  if (low === 0) return { code: (wstatus >> 8) & 0xff, signal: null, time };
  if (low !== 0x7f) return { code: null, signal: low, time };
  return undefined; // stopped: not an exit
}

/** The file's bytes: one JSON line. */
export function encodeHistory(h: History): Uint8Array {
  const e = h.lastExit;
  return encode(
    JSON.stringify({
      version: HISTORY_VERSION,
      since: roundTime(h.since),
      starts: h.starts,
      last_exit: e ? { code: e.code, signal: e.signal, time: roundTime(e.time) } : null,
      ready: h.ready === null ? null : roundTime(h.ready),
    }) + "\n",
  );
}

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;
const count = (v: unknown): number | null =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;

/** Decode a history file's bytes; undefined when they are not a JSON object. */
export function decodeHistory(b: Uint8Array): HistoryRead | undefined {
  let o: unknown;
  try {
    o = JSON.parse(decode(b));
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  let lastExit: Exit | null = null;
  const e = r.last_exit;
  if (typeof e === "object" && e !== null && !Array.isArray(e)) {
    const x = e as Record<string, unknown>;
    const time = num(x.time);
    if (time !== null) lastExit = { code: count(x.code), signal: count(x.signal), time };
  }
  return { since: num(r.since), starts: count(r.starts), lastExit, ready: num(r.ready) };
}

const buf = new Uint8Array(HISTORY_MAX);

/**
 * Read and decode the history file at `path`; undefined when it is missing or junk. One
 * bounded read, opened without blocking, whatever lies there: a FIFO gives nothing at once
 * (no writer: end of file; a writer: EAGAIN), a directory EISDIR, `/dev/zero` zeros that are
 * no JSON. (No fstat to check the type first: svstat pays for every system call, per DIR.)
 */
export function readHistory(path: string | Uint8Array): HistoryRead | undefined {
  const fd = sysAt(NR.openat, AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  const n = sys(NR.read, fd, addr(buf), buf.length);
  sys(NR.close, fd);
  return n <= 0 ? undefined : decodeHistory(buf.subarray(0, n));
}
