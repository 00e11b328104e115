/**
 * The system calls multilog and the stamping filters make on raw descriptors, in djb's style
 * over lib/sys.ts: every call returns -1 on failure and leaves its errno in
 * {@linkcode lastErr} (taken from the call's own result, so nothing in between can change
 * it). Files are opened as daemontools opens them (lib/open.ts).
 * @module
 */
import { cstr } from "../bytes.ts";
import { warnSys } from "../msg.ts";
import * as open from "../open.ts";
import {
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
} from "../libc.ts";
import { dirents } from "../readdir.ts";
import { type Stat, statAt as statAtRaw } from "../stat.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "../sys.ts";

export { AT_FDCWD };

export { O_NOFOLLOW };

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

/** A lib/sys.ts result in djb's style: -1 with {@linkcode lastErr} set, or the result. */
function check(r: number): number {
  if (r >= 0) return r;
  err = -r;
  return -1;
}

type Bytes = Uint8Array<ArrayBuffer>;

/** daemontools' open_read: O_RDONLY|O_NONBLOCK. */
export function openRead(path: open.Path): number {
  return check(open.openRead(path));
}

/** daemontools' open_write: O_WRONLY|O_NONBLOCK (no creation). */
export function openWrite(path: open.Path): number {
  return check(open.openWrite(path));
}

/** daemontools' open_append: create 0600, append. */
export function openAppend(path: open.Path): number {
  return check(open.openAppend(path));
}

/** close(2). */
export function close(fd: number): number {
  return check(sys(NR.close, fd));
}

/** write(2) of `buf` (a view; its offset is honoured). */
export function write(fd: number, buf: Uint8Array): number {
  return check(sys(NR.write, fd, addr(buf as Bytes), buf.length));
}

/** read(2) into `buf`. */
export function read(fd: number, buf: Uint8Array): number {
  return check(sys(NR.read, fd, addr(buf as Bytes), buf.length));
}

/** fsync(2). */
export function fsync(fd: number): number {
  return check(sys(NR.fsync, fd));
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number): number {
  return check(sys(NR.fchmod, fd, mode));
}

/** flock(2). */
export function flock(fd: number, op: number): number {
  return check(sys(NR.flock, fd, op));
}

/** lseek(fd, 0, SEEK_SET). */
export function seekBegin(fd: number): number {
  return check(sys(NR.lseek, fd, 0, 0));
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return sys(NR.umask, mask);
}

/** fcntl(2) with an int argument. */
export function fcntl(fd: number, cmd: number, arg: number): number {
  return check(sys(NR.fcntl, fd, cmd, arg));
}

/** waitpid(pid, status, 0) (wait4 without rusage). */
export function waitpid(pid: number, status: Int32Array<ArrayBuffer>): number {
  return check(sys(NR.wait4, pid, addr(status), 0, 0));
}

// ---- relative to a directory descriptor (never chdir) -----------------------------------

/** How a log directory's files are opened: `extra` is 0 or O_NOFOLLOW (hosted loggers). */
export type OpenMode = "read" | "write" | "append" | "trunc";

/** daemontools' open_read/open_write/open_append/open_trunc of `name` in directory `dirfd`. */
export function openAt(dirfd: number, name: open.Path, how: OpenMode, extra = 0): number {
  const f = how === "read"
    ? O_RDONLY | O_NONBLOCK
    : how === "write"
    ? O_WRONLY | O_NONBLOCK
    : how === "append"
    ? O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT
    : O_WRONLY | O_NONBLOCK | O_TRUNC | O_CREAT;
  const mode = how === "append" ? 0o600 : how === "trunc" ? 0o644 : 0;
  return check(sysAt(NR.openat, dirfd, name, f | O_CLOEXEC | extra, mode));
}

/** open_read of a directory `name` in `dirfd` (O_DIRECTORY: a file fails with ENOTDIR). */
export function openDirAt(dirfd: number, name: open.Path): number {
  return check(sysAt(NR.openat, dirfd, name, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC));
}

/** mkdirat(2). */
export function mkdirAt(dirfd: number, name: open.Path, mode: number): number {
  return check(sysAt(NR.mkdirat, dirfd, name, mode));
}

/** renameat(2) within one directory. */
export function renameAt(dirfd: number, from: open.Path, to: open.Path): number {
  const a = cstr(from), b = cstr(to);
  return check(sys(NR.renameat, dirfd, addr(a), dirfd, addr(b)));
}

/** linkat(2) within one directory (a symlink is linked itself, never followed). */
export function linkAt(dirfd: number, from: open.Path, to: open.Path): number {
  const a = cstr(from), b = cstr(to);
  return check(sys(NR.linkat, dirfd, addr(a), dirfd, addr(b), 0));
}

/** unlinkat(2) of a file. */
export function unlinkAt(dirfd: number, name: open.Path): number {
  return check(sysAt(NR.unlinkat, dirfd, name, 0));
}

/**
 * chmod of `name` in `dirfd`. Following a symlink (fchmodat), as 0.76's chmod does, or, with
 * `nofollow`, through a descriptor opened with O_NOFOLLOW (fchmodat cannot refuse a link).
 */
export function chmodAt(dirfd: number, name: open.Path, mode: number, nofollow: boolean): number {
  if (!nofollow) return check(sysAt(NR.fchmodat, dirfd, name, mode));
  const fd = openAt(dirfd, name, "read", O_NOFOLLOW);
  if (fd < 0) return -1;
  const r = fchmod(fd, mode);
  sys(NR.close, fd);
  return r;
}

/** stat of `name` in `dirfd` (lstat when `follow` is false), or undefined with lastErr. */
export function statAt(dirfd: number, name: open.Path, follow: boolean): Stat | undefined {
  const st = statAtRaw(dirfd, name, follow);
  if (typeof st !== "number") return st;
  err = -st;
  return undefined;
}

/**
 * The names in directory `path` (but `.` and `..`), as bytes, or undefined with
 * {@linkcode lastErr} set.
 */
export function names(path: open.Path, dirfd = AT_FDCWD): Uint8Array[] | undefined {
  const r = dirents(path, dirfd);
  if (typeof r !== "number") return r;
  err = -r;
  return undefined;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleep without running the event loop, as daemontools' deepsleep does with its
 * signals blocked: a TERM or ALRM arriving meanwhile is handled afterwards.
 */
export function deepsleep(seconds: number): void {
  Atomics.wait(sleeper, 0, 0, seconds * 1000);
}

/** 0.76's pause3/pause5: `multilog: warning: TEXT: ` + the errno text, then sleep 5 s. */
export function pause(text: string): void {
  warnSys("multilog", text, err);
  deepsleep(5);
}

// ---- lossless hosting (lib/multilog/hosted.ts): stage, then read back --------------------

/** SPLICE_F_NONBLOCK: the pipe side of splice never blocks (EAGAIN instead). */
export const SPLICE_F_NONBLOCK = 2;

const offBuf = new BigInt64Array(1);

/**
 * splice(2) of up to `len` bytes from the head of pipe `from` into file `fd` at offset `off`
 * (the file position is not used or moved).
 */
export function spliceAt(from: number, fd: number, off: number, len: number): number {
  offBuf[0] = BigInt(off);
  return check(sys(NR.splice, from, 0, fd, addr(offBuf), len, SPLICE_F_NONBLOCK));
}

/** pread(2) of `buf.length` bytes at `off`. */
export function pread(fd: number, buf: Uint8Array, off: number): number {
  return check(sys(NR.pread64, fd, addr(buf as Bytes), buf.length, off));
}

/** pwrite(2) of `buf` at `off`. */
export function pwrite(fd: number, buf: Uint8Array, off: number): number {
  return check(sys(NR.pwrite64, fd, addr(buf as Bytes), buf.length, off));
}

/** ftruncate(2). */
export function ftruncate(fd: number, len: number): number {
  return check(sys(NR.ftruncate, fd, len));
}
