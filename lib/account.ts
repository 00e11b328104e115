/**
 * Accounts through libc (`getpwnam`, `getgrouplist`: NSS included, as the
 * C tools see them) and the privilege drop of daemontools' `prot_gid` /
 * `prot_uid`, through FFI.
 *
 * Errors come with their results: the calling thread's changes are raw system calls
 * (lib/sys.ts). glibc's all-threads `setgroups`/`setgid`/`setuid` report a failure as -1 and
 * errno, which something may overwrite before it is read; but glibc makes the call on the
 * calling thread first and touches no other thread when that fails, so after a -1 nothing has
 * changed and the same raw call, repeated on the calling thread, fails the same way and gives
 * the errno with its result.
 * @module
 */
import { cstr } from "./bytes.ts";
import { EPERM } from "./errors.ts";
import { libc } from "./libc.ts";
import { addr, NR, sys } from "./sys.ts";

/** The fields of `struct passwd` the chain loaders use. */
export interface Account {
  /** pw_name, raw bytes. */
  name: Uint8Array;
  uid: number;
  gid: number;
}

// struct passwd on x86_64 glibc: pw_name@0, pw_passwd@8, pw_uid@16, pw_gid@20
const PW_UID = 16;
const PW_GID = 20;

/**
 * Which threads a credential change reaches.
 * - `"all"`: every thread of the process, through glibc (it has each runtime thread make the
 *   same call). Needed when a program of ours will go on running in this process.
 * - `"caller"`: the calling thread only, by raw system calls, about 1 ms sooner. Enough when the
 *   process will only exec: execve gives the new image the calling thread's credentials and ends
 *   the other threads, and every link of a chain runs on the calling thread.
 */
export type Reach = "all" | "caller";

/** `getpwnam(name)`, or undefined when there is no such account. */
export function getpwnam(name: string | Uint8Array): Account | undefined {
  const p = libc().getpwnam(cstr(name));
  if (p === null) return undefined;
  const v = new Deno.UnsafePointerView(p);
  const namePtr = v.getPointer(0);
  let nameBytes = new Uint8Array(0);
  if (namePtr !== null) {
    const nv = new Deno.UnsafePointerView(namePtr);
    let n = 0;
    while (nv.getUint8(n) !== 0) n++;
    nameBytes = new Uint8Array(n);
    nv.copyInto(nameBytes);
  }
  return { name: nameBytes, uid: v.getUint32(PW_UID), gid: v.getUint32(PW_GID) };
}

/** A raw system call on the calling thread: 0, or the errno. */
function raw(nr: number, a: number | bigint, b: number | bigint = 0): number {
  const r = sys(nr, a, b);
  return r < 0 ? -r : 0;
}

/**
 * A glibc all-threads call's result: 0, or (it returned -1) the errno of the same raw call
 * `again` repeated on the calling thread (see the module's text).
 */
function allThreads(result: number, again: () => number): number {
  if (result !== -1) return 0;
  // should the repeat succeed (it cannot: nothing changed in between), still report a failure:
  // EPERM, what a refused credential change gives
  return again() || EPERM;
}

/** `setgroups(n, gids)`: 0, or the errno. */
export function setgroups(gids: number[], reach: Reach = "all"): number {
  const a = new Uint32Array(Math.max(gids.length, 1));
  a.set(gids);
  const once = () => raw(NR.setgroups, gids.length, addr(a));
  if (reach === "caller") return once();
  return allThreads(libc().setgroups(BigInt(gids.length), a), once);
}

/** daemontools' `prot_gid`: groups = [gid], then setgid. 0, or the errno. */
export function protGid(gid: number, reach: Reach = "all"): number {
  const e = setgroups([gid], reach);
  if (e !== 0) return e;
  const once = () => raw(NR.setgid, gid);
  if (reach === "caller") return once();
  return allThreads(libc().setgid(gid), once);
}

/**
 * daemontools' `prot_uid`: setuid. 0, or the errno.
 *
 * The calling thread changes first, by a raw system call, then (reach `"all"`) glibc moves the
 * runtime's other threads (it would otherwise do the caller last). The kernel decides whether
 * the process is over the account's processes limit when a thread's uid changes, counting the
 * account's threads: done first, the caller (the one that will execve) is judged like 0.76's
 * single-threaded process, not with the runtime's threads already counted.
 */
export function protUid(uid: number, reach: Reach = "all"): number {
  const once = () => raw(NR.setuid, uid);
  const e = once();
  if (e !== 0 || reach === "caller") return e;
  return allThreads(libc().setuid(uid), once);
}

/**
 * `initgroups(name, gid)` (encore's `setuidgid -s`): every group the
 * account belongs to, plus gid. 0, or the errno.
 */
export function initgroups(name: Uint8Array, gid: number, reach: Reach = "all"): number {
  let n = 64;
  for (;;) {
    const groups = new Uint32Array(n);
    const count = new Int32Array([n]);
    const r = libc().getgrouplist(cstr(name), gid, groups, count);
    if (r !== -1) return setgroups([...groups.subarray(0, count[0])], reach);
    if (count[0] <= n) n *= 2;
    else n = count[0];
  }
}
