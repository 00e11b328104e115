/**
 * The names in a directory as the kernel gives them (getdents64), each decoded losslessly
 * (lib/bytes.ts), so a name that is not UTF-8 reaches `stat`, `open` and messages as the very
 * bytes it is. `Deno.readDirSync` would turn such a byte into U+FFFD: a name no call can find.
 * @module
 */
import { decode } from "../bytes.ts";
import { EIO } from "../errors.ts";
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY } from "../libc.ts";
import { addr, NR, sys, sysPath } from "../sys.ts";

/** Offsets in `struct linux_dirent64`: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name. */
const RECLEN = 16, NAME = 19;

const buf = new Uint8Array(32768);
const view = new DataView(buf.buffer);

/** Every name in directory `path` but `.` and `..`, in the kernel's order; or `-errno`. */
export function readNames(path: string): string[] | number {
  const fd = sysPath(NR.open, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  const names: string[] = [];
  try {
    while (true) {
      const n = sys(NR.getdents64, fd, addr(buf), buf.length);
      if (n < 0) return n;
      if (n === 0) return names;
      for (let off = 0; off < n;) {
        const len = view.getUint16(off + RECLEN, true);
        if (len <= NAME) return -EIO; // never from a sane kernel; no endless loop either
        let end = off + NAME;
        while (end < off + len && buf[end] !== 0) end++;
        const name = buf.subarray(off + NAME, end);
        const dot = name[0] === 0x2e &&
          (name.length === 1 || (name.length === 2 && name[1] === 0x2e));
        if (!dot) names.push(decode(name));
        off += len;
      }
    }
  } finally {
    sys(NR.close, fd);
  }
}
