/**
 * djb's error strings (daemontools' `error_str`, not strerror) and the
 * errno values of Linux x86_64 they are keyed on.
 * @module
 */

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const EROFS = 30;
export const EPIPE = 32;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const EDQUOT = 122;

const STRINGS: Record<number, string> = {
  [ENOENT]: "file does not exist",
  [EACCES]: "access denied",
  [EPERM]: "permission denied",
  [EAGAIN]: "temporary failure",
  [ENXIO]: "device not configured",
  [ENOTDIR]: "not a directory",
  [EISDIR]: "is a directory",
  [ELOOP]: "symbolic link loop",
  [EINTR]: "interrupted system call",
  [ENOMEM]: "out of memory",
  [EEXIST]: "file already exists",
  [EINVAL]: "invalid argument",
  [EBUSY]: "device busy",
  [ENOSPC]: "out of disk space",
  [EROFS]: "read-only file system",
  [ENAMETOOLONG]: "file name too long",
  [EMFILE]: "process cannot open more files",
  [ENFILE]: "system cannot open more files",
  [ENOEXEC]: "exec format error",
  [ETXTBSY]: "text busy",
  [EIO]: "input/output error",
  [EPIPE]: "broken pipe",
  [EXDEV]: "cross-device link",
  [EBADF]: "file descriptor not open",
  [ECHILD]: "no child processes",
  [ESRCH]: "no such process",
  [E2BIG]: "argument list too long",
  [EFBIG]: "file too big",
  [EDQUOT]: "disk quota exceeded",
  [ENOTEMPTY]: "directory not empty",
  [ENOSYS]: "system call not available",
  [ENOLCK]: "no locks available",
};

/** djb's text for an errno value. */
export function errorStr(errno: number): string {
  return STRINGS[errno] ?? "unknown error";
}
