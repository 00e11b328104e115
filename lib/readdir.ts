/**
 * The names in a directory as the kernel gives them (getdents64): bytes, or decoded losslessly
 * (lib/bytes.ts), so a name that is not UTF-8 reaches `stat`, `open` and messages as the very
 * bytes it is. `Deno.readDirSync` would turn such a byte into U+FFFD: a name no call can find.
 * The one directory reader of the project (svscan's scan, svscanboot, multilog's pruning,
 * envdir, a chain's open descriptors).
 * @module
 */
import { decode } from "./bytes.ts";
import { EIO } from "./errors.ts";
import { O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY } from "./libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "./sys.ts";

/** Offsets in `struct linux_dirent64`: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name. */
const RECLEN = 16, NAME = 19;

const buf = new Uint8Array(32768);
const view = new DataView(buf.buffer);

/**
 * Every name in directory `path` (relative to `dirfd`) but `.` and `..`, as bytes, in the
 * kernel's order; or `-errno`.
 */
export function dirents(path: string | Uint8Array, dirfd = AT_FDCWD): Uint8Array[] | number {
  const flags = O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC;
  const fd = sysAt(NR.openat, dirfd, path, flags, 0);
  if (fd < 0) return fd;
  const names: Uint8Array[] = [];
  try {
    while (true) {
      const n = sys(NR.getdents64, fd, addr(buf), buf.length);
      if (n <= 0) return n < 0 ? n : names;
      for (let off = 0; off < n;) {
        const len = view.getUint16(off + RECLEN, true);
        if (len <= NAME) return -EIO; // never from a sane kernel; no endless loop either
        let end = off + NAME;
        while (end < off + len && buf[end] !== 0) end++;
        const dot = buf[off + NAME] === 0x2e &&
          (end === off + NAME + 1 || (end === off + NAME + 2 && buf[off + NAME + 1] === 0x2e));
        if (!dot) names.push(buf.slice(off + NAME, end));
        off += len;
      }
    }
  } finally {
    sys(NR.close, fd);
  }
}

/** {@linkcode dirents}, each name decoded losslessly; or `-errno`. */
export function readNames(path: string): string[] | number {
  const names = dirents(path);
  return typeof names === "number" ? names : names.map(decode);
}
