/**
 * envdir [-p PREFIX] DIR CHILD...: for every file NAME in DIR not starting
 * with `.`, set NAME (PREFIX+NAME with `-p`, an extension from
 * daemontools-encore) to the file's first line with trailing blanks removed
 * and NULs turned into newlines, or remove it if the file is empty; then
 * run CHILD. Names and values are taken as raw bytes. An entry that cannot
 * be opened because it does not exist (a dangling symlink) removes NAME
 * (0.76 would reuse the previous entry's value).
 * @module
 */
import { cat } from "../lib/bytes.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import { EINTR, ENOENT } from "../lib/errors.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../lib/libc.ts";
import { fatalSys, usage } from "../lib/msg.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";
import { dirents } from "../lib/readdir.ts";

const PROG = "envdir";

/** The whole file, or null when it does not exist, or the errno. */
function readFile(name: Uint8Array): Uint8Array | null | number {
  const fd = sysPath(NR.open, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) return fd === -ENOENT ? null : -fd;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(total < 256 ? 256 : total);
    const n = sys(NR.read, fd, addr(buf), buf.length);
    if (n < 0) {
      if (n === -EINTR) continue;
      sys(NR.close, fd);
      return -n;
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  sys(NR.close, fd);
  return cat(...chunks);
}

/** The variable's value from a file's bytes (null = remove). */
function valueOf(b: Uint8Array): Uint8Array | null {
  if (b.length === 0) return null;
  let len = b.indexOf(10);
  if (len < 0) len = b.length;
  while (len > 0 && (b[len - 1] === 32 || b[len - 1] === 9)) len--;
  const v = b.slice(0, len);
  for (let i = 0; i < v.length; i++) if (v[i] === 0) v[i] = 10;
  return v;
}

/** Read DIR into pending environment changes; returns the child's argv. */
export const apply: Apply = (args, ctx) => {
  let a = args;
  let prefix = "";
  if (a.length > 0 && a[0].startsWith("-p")) { // encore's -p; nothing else is an option in 0.76
    if (a[0].length > 2) {
      prefix = a[0].slice(2);
      a = a.slice(1);
    } else {
      if (a.length < 2) usageExit();
      prefix = a[1];
      a = a.slice(2);
    }
  }
  if (a.length < 2) usageExit();
  const fn = a[0];
  const orig = sysPath(NR.open, ".", O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (orig < 0) fatalSys(PROG, "unable to switch to current directory", -orig);
  const cd = sysPath(NR.chdir, fn);
  if (cd < 0) fatalSys(PROG, `unable to switch to directory ${fn}`, -cd);
  // opendir(".") + readdir
  const names = dirents(".");
  if (typeof names === "number") fatalSys(PROG, `unable to read directory ${fn}`, -names);
  const pfx = cat(prefix);
  for (const name of names) {
    if (name[0] === 46) continue; // '.'
    const content = readFile(name);
    if (typeof content === "number") {
      fatalSys(PROG, cat("unable to read ", fn, "/", name), content);
    }
    ctx.env.set(cat(pfx, name), content === null ? null : valueOf(content));
  }
  const back = sys(NR.fchdir, orig);
  if (back < 0) fatalSys(PROG, "unable to switch to starting directory", -back);
  sys(NR.close, orig);
  return a.slice(1);
};

function usageExit(): never {
  usage(PROG, "envdir dir child", 111); // envdir's usage exits 111 (verified on Debian)
}

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
