/**
 * Accounts through libc (`getpwnam`, `getgrouplist`: NSS included, as the
 * C tools see them) and the privilege drop of daemontools' `prot_gid` /
 * `prot_uid`, all through FFI.
 * @module
 */
import { cstr, errno, libc } from "./libc.ts";

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
const SYS_setuid = 105n;
const SYS_setgid = 106n;
const SYS_setgroups = 116n;

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

function raw(nr: bigint, a: bigint, b = 0n): number {
  return libc().syscall6i(nr, a, b, 0n, 0n, 0n, 0n) === -1 ? errno() : 0;
}

/** `setgroups(n, gids)`: 0, or the errno. */
export function setgroups(gids: number[], reach: Reach = "all"): number {
  const a = new Uint32Array(Math.max(gids.length, 1));
  a.set(gids);
  if (reach === "caller") {
    return raw(
      SYS_setgroups,
      BigInt(gids.length),
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a))),
    );
  }
  return libc().setgroups(BigInt(gids.length), a) === -1 ? errno() : 0;
}

/** daemontools' `prot_gid`: groups = [gid], then setgid. 0, or the errno. */
export function protGid(gid: number, reach: Reach = "all"): number {
  const e = setgroups([gid], reach);
  if (e !== 0) return e;
  if (reach === "caller") return raw(SYS_setgid, BigInt(gid));
  return libc().setgid(gid) === -1 ? errno() : 0;
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
  const e = raw(SYS_setuid, BigInt(uid));
  if (e !== 0 || reach === "caller") return e;
  return libc().setuid(uid) === -1 ? errno() : 0;
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
