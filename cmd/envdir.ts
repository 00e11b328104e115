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
import { type Apply, cat, dieSys, runChain, setErrno } from "../lib/exec.ts";
import { usage } from "../lib/msg.ts";
import { cstr, errno, libc, O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../lib/libc.ts";
import { EINTR, ENOENT } from "../lib/errors.ts";

const PROG = "envdir";

/** The whole file, or null when it does not exist, or the errno. */
function readFile(name: Uint8Array): Uint8Array | null | number {
  const L = libc();
  const fd = L.open(cstr(name), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd === -1) {
    const e = errno();
    return e === ENOENT ? null : e;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(total < 256 ? 256 : total);
    const n = Number(L.read(fd, buf, BigInt(buf.length)));
    if (n === -1) {
      const e = errno();
      if (e === EINTR) continue;
      L.close(fd);
      return e;
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  L.close(fd);
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
  const L = libc();
  const orig = L.open(cstr("."), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (orig === -1) dieSys(PROG, "unable to switch to current directory", errno());
  if (L.chdir(cstr(fn)) === -1) dieSys(PROG, `unable to switch to directory ${fn}`, errno());
  const dir = L.opendir(cstr("."));
  if (dir === null) dieSys(PROG, `unable to read directory ${fn}`, errno());
  const pfx = cat(prefix);
  for (;;) {
    setErrno(0);
    const d = L.readdir(dir);
    if (d === null) {
      const e = errno();
      if (e !== 0) dieSys(PROG, `unable to read directory ${fn}`, e);
      break;
    }
    // struct dirent on x86_64: d_ino@0, d_off@8, d_reclen@16, d_type@18, d_name@19
    const v = new Deno.UnsafePointerView(d);
    if (v.getUint8(19) === 46) continue; // '.'
    let n = 0;
    while (v.getUint8(19 + n) !== 0) n++;
    const name = new Uint8Array(n);
    v.copyInto(name, 19);
    const content = readFile(name);
    if (typeof content === "number") {
      dieSys(PROG, cat("unable to read ", fn, "/", name), content);
    }
    ctx.setenv(cat(pfx, name), content === null ? null : valueOf(content));
  }
  L.closedir(dir);
  if (L.fchdir(orig) === -1) dieSys(PROG, "unable to switch to starting directory", errno());
  L.close(orig);
  return a.slice(1);
};

function usageExit(): never {
  usage(PROG, "envdir dir child", 111); // envdir's usage exits 111 (verified on Debian)
}

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
