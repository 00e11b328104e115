/**
 * `struct stat` (x86_64: 144 bytes) from raw `stat`/`lstat`/`fstat`/`newfstatat` calls, decoded
 * in one place. Cheaper than `Deno.statSync` where a missing file is the usual answer (no
 * exception is built) and exact where names are bytes.
 * @module
 */
import { S_IFDIR, S_IFMT } from "./libc.ts";
import { addr, AT_FDCWD, AT_SYMLINK_NOFOLLOW, NR, sys, sysAt } from "./sys.ts";

/** Size of `struct stat` on x86_64. */
export const SIZEOF_STAT = 144;

export { S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from "./libc.ts";

/** The fields of `struct stat` this project reads. */
export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time, whole seconds. */
  mtime: number;
}

const buf = new Uint8Array(SIZEOF_STAT);
const view = new DataView(buf.buffer);

function decodeStat(): Stat {
  return {
    dev: Number(view.getBigUint64(0, true)),
    ino: Number(view.getBigUint64(8, true)),
    nlink: Number(view.getBigUint64(16, true)),
    mode: view.getUint32(24, true),
    uid: view.getUint32(28, true),
    gid: view.getUint32(32, true),
    size: Number(view.getBigInt64(48, true)),
    mtime: Number(view.getBigInt64(88, true)),
  };
}

/**
 * `fstatat(dirfd, path)`: the file's stat, or `-errno`. `follow` false: a final symlink is
 * reported itself (lstat).
 */
export function statAt(dirfd: number, path: string | Uint8Array, follow = true): Stat | number {
  const r = sysAt(NR.newfstatat, dirfd, path, addr(buf), follow ? 0 : AT_SYMLINK_NOFOLLOW);
  return r < 0 ? r : decodeStat();
}

/** `stat(path)` relative to the current directory: the stat, or `-errno`. */
export function stat(path: string | Uint8Array): Stat | number {
  return statAt(AT_FDCWD, path, true);
}

/** `lstat(path)`: the stat (a symlink itself), or `-errno`. */
export function lstat(path: string | Uint8Array): Stat | number {
  return statAt(AT_FDCWD, path, false);
}

/** `fstat(fd)`: the stat, or `-errno`. */
export function fstat(fd: number): Stat | number {
  const r = sys(NR.fstat, fd, addr(buf));
  return r < 0 ? r : decodeStat();
}

/** True for a directory's mode. */
export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}
