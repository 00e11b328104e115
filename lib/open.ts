/**
 * daemontools' `open_*` family (open_read, open_write, open_append, open_trunc): the flags
 * and modes 0.76 opens its files with, in one place. Each returns the descriptor or `-errno`
 * (lib/sys.ts); names are strings (encoded losslessly) or bytes. Every descriptor is
 * close-on-exec (0.76 marks its own with `coe()`); a child that must get one is handed it by
 * lib/spawn.ts's dup2 list.
 * @module
 */
import { O_APPEND, O_CLOEXEC, O_CREAT, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY } from "./libc.ts";
import { fstat, S_IFMT, S_IFREG } from "./stat.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "./sys.ts";

/** A file name: a string (encoded losslessly) or raw bytes. */
export type Path = string | Uint8Array;

function open(path: Path, flags: number, mode = 0): number {
  return sysAt(NR.openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

/** open_read: `O_RDONLY|O_NONBLOCK` (a FIFO opens at once, with or without a writer). */
export function openRead(path: Path): number {
  return open(path, O_RDONLY | O_NONBLOCK);
}

/** open_write: `O_WRONLY|O_NONBLOCK`, no creation (a FIFO without reader fails: ENXIO). */
export function openWrite(path: Path): number {
  return open(path, O_WRONLY | O_NONBLOCK);
}

/** open_append: `O_WRONLY|O_NONBLOCK|O_APPEND|O_CREAT`, mode 0600. */
export function openAppend(path: Path): number {
  return open(path, O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT, 0o600);
}

/** open_trunc: `O_WRONLY|O_NONBLOCK|O_TRUNC|O_CREAT`, mode 0644. */
export function openTrunc(path: Path): number {
  return open(path, O_WRONLY | O_NONBLOCK | O_TRUNC | O_CREAT, 0o644);
}

/**
 * The first `buf.length` bytes of regular file `path`, read with one bounded read into `buf`
 * (a view of it is returned); undefined when it is absent, unreadable or not a regular file
 * (a FIFO or a device put there would otherwise block or never end).
 */
export function readSmall(path: Path, buf: Uint8Array<ArrayBuffer>): Uint8Array | undefined {
  const fd = openRead(path);
  if (fd < 0) return undefined;
  try {
    const st = fstat(fd);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFREG) return undefined;
    const n = sys(NR.read, fd, addr(buf), buf.length);
    return n < 0 ? undefined : buf.subarray(0, n);
  } finally {
    sys(NR.close, fd);
  }
}
