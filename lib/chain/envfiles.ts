/**
 * envdir's reading of a directory, shared by the `envdir` program and svscan's hosted loggers
 * (an `exec envdir DIR multilog ...` log/run): each file NAME not starting with `.` gives
 * NAME's value, its first line with trailing blanks removed and NULs made newlines, or null
 * (remove NAME) when the file is empty or does not exist (a dangling symlink; 0.76 would reuse
 * the previous entry's value). Names and values are raw bytes.
 * @module
 */
import { cat } from "../bytes.ts";
import { EINTR, ENOENT } from "../errors.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../libc.ts";
import { dirents } from "../readdir.ts";
import { addr, NR, sys, sysAt } from "../sys.ts";

/** A failure: listing the directory (no name) or reading the file `name`. */
export interface EnvdirError {
  errno: number;
  name?: Uint8Array;
}

/** The variables of the directory open as `dirfd`, in listing order, or the failure. */
export function envFiles(dirfd: number): [Uint8Array, Uint8Array | null][] | EnvdirError {
  const names = dirents(".", dirfd);
  if (typeof names === "number") return { errno: -names };
  const vars: [Uint8Array, Uint8Array | null][] = [];
  for (const name of names) {
    if (name[0] === 46) continue; // '.'
    const content = readAll(dirfd, name);
    if (typeof content === "number") return { errno: content, name };
    vars.push([name, content === null ? null : envValue(content)]);
  }
  return vars;
}

/** File `name` in `dirfd` whole, null when it does not exist, or the errno. */
function readAll(dirfd: number, name: Uint8Array): Uint8Array | null | number {
  const fd = sysAt(NR.openat, dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) return fd === -ENOENT ? null : -fd;
  const chunks: Uint8Array[] = [];
  try {
    for (let size = 256;; size = Math.min(size * 2, 65536)) {
      const buf = new Uint8Array(size);
      const n = sys(NR.read, fd, addr(buf), buf.length);
      if (n === -EINTR) continue;
      if (n < 0) return -n;
      if (n === 0) return cat(...chunks);
      chunks.push(buf.subarray(0, n));
    }
  } finally {
    sys(NR.close, fd);
  }
}

/** The variable's value from a file's bytes (null: remove the variable). */
function envValue(b: Uint8Array): Uint8Array | null {
  if (b.length === 0) return null;
  let len = b.indexOf(10);
  if (len < 0) len = b.length;
  while (len > 0 && (b[len - 1] === 32 || b[len - 1] === 9)) len--;
  return b.slice(0, len).map((c) => c === 0 ? 10 : c);
}
