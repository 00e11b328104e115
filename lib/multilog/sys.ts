/**
 * The few system calls multilog needs on raw descriptors, through FFI, in djb's style:
 * every call returns -1 on failure and leaves the errno in {@linkcode lastErr}. Files are
 * opened as daemontools opens them (O_NONBLOCK, and close-on-exec like its `coe()`).
 * @module
 */
import {
  cstr,
  errno,
  libc,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
} from "../libc.ts";
import { errnoOf, errorStr } from "../errors.ts";
import { warn } from "../msg.ts";

let err = 0;

/** errno of the last failing call made through this module. */
export function lastErr(): number {
  return err;
}

/**
 * Record `e` as the last failure without a call: where 0.76 would have seen a system call
 * fail (its read() interrupted by a signal), so stale-errno messages come out alike.
 */
export function setErr(e: number): void {
  err = e;
}

/** djb's text for the last failure. */
export function lastErrText(): string {
  return errorStr(err);
}

function check(r: number): number {
  if (r < 0) err = errno();
  return r;
}

/** open(2) of `path` with `flags` (O_CLOEXEC added) and `mode`. */
export function open(path: string, flags: number, mode = 0): number {
  return check(libc().open(cstr(path), flags | O_CLOEXEC, mode));
}

/** daemontools' open_read: O_RDONLY|O_NONBLOCK. */
export function openRead(path: string): number {
  return open(path, O_RDONLY | O_NONBLOCK);
}

/** daemontools' open_write: O_WRONLY|O_NONBLOCK (no creation). */
export function openWrite(path: string): number {
  return open(path, O_WRONLY | O_NONBLOCK);
}

/** daemontools' open_append: create 0600, append. */
export function openAppend(path: string): number {
  return open(path, O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT, 0o600);
}

/** daemontools' open_trunc: create 0644, truncate. */
export function openTrunc(path: string): number {
  return open(path, O_WRONLY | O_NONBLOCK | O_TRUNC | O_CREAT, 0o644);
}

/** close(2). */
export function close(fd: number): number {
  return check(libc().close(fd));
}

/** write(2) of `buf` (a view; its offset is honoured). */
export function write(fd: number, buf: Uint8Array): number {
  return check(Number(libc().write(fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length))));
}

/** read(2) into `buf`. */
export function read(fd: number, buf: Uint8Array): number {
  return check(Number(libc().read(fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length))));
}

/** fsync(2). */
export function fsync(fd: number): number {
  return check(libc().fsync(fd));
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number): number {
  return check(libc().fchmod(fd, mode));
}

/** fchdir(2). */
export function fchdir(fd: number): number {
  return check(libc().fchdir(fd));
}

/** flock(2). */
export function flock(fd: number, op: number): number {
  return check(libc().flock(fd, op));
}

/** lseek(fd, 0, SEEK_SET). */
export function seekBegin(fd: number): number {
  return check(Number(libc().lseek(fd, 0n, 0)));
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return libc().umask(mask);
}

/** fcntl(2) with an int argument. */
export function fcntl(fd: number, cmd: number, arg: number): number {
  return check(libc().fcntl(fd, cmd, arg));
}

/**
 * Run a Deno file-system call the djb way: its result, or undefined with
 * {@linkcode lastErr} set from the thrown error.
 */
export function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    err = errnoOf(e);
    return undefined;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleep without running the event loop, as daemontools' deepsleep does with its
 * signals blocked: a TERM or ALRM arriving meanwhile is handled afterwards.
 */
export function deepsleep(seconds: number): void {
  Atomics.wait(sleeper, 0, 0, seconds * 1000);
}

/** Run a Deno file-system call that returns nothing: true, or false with lastErr set. */
export function ok(f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    err = errnoOf(e);
    return false;
  }
}

/** 0.76's pause3/pause5: `multilog: warning: TEXT` + the errno text, then sleep 5 s. */
export function pause(text: string): void {
  warn("multilog", text + errorStr(err));
  deepsleep(5);
}
