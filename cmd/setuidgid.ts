/**
 * setuidgid [-s] ACCOUNT CHILD...: run CHILD as ACCOUNT's uid and gid, with
 * supplementary groups = [gid] (`-s`, from daemontools-encore: all the
 * account's groups). The credentials change here, through FFI, right before
 * the child is exec'd (or, for a chain of our own tools, before the next link
 * runs in this process: it then runs as ACCOUNT, exactly as after an exec). Only the thread that
 * will execve changes, unless the chain names a program of ours that would run on in this
 * process: then every thread does (lib/account.ts).
 * @module
 */
import { getpwnam, initgroups, protGid, protUid } from "../lib/account.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import { fatal, fatalSys, usage } from "../lib/msg.ts";

const PROG = "setuidgid";

/** Change this process's credentials; returns the child's argv. */
export const apply: Apply = (args, ctx) => {
  let a = args;
  let all = false;
  if (a[0] === "-s") { // encore's flag; anything else keeps 0.76's parsing
    all = true;
    a = a.slice(1);
  }
  if (a.length < 2) usage(PROG, "setuidgid account child");
  const pw = getpwnam(a[0]);
  if (!pw) fatal(PROG, `unknown account ${a[0]}`);
  let e = protGid(pw.gid, ctx.reach);
  if (e !== 0) fatalSys(PROG, "unable to setgid", e);
  if (all) {
    e = initgroups(pw.name, pw.gid, ctx.reach);
    if (e !== 0) fatalSys(PROG, "unable to initgroups", e);
  }
  e = protUid(pw.uid, ctx.reach);
  if (e !== 0) fatalSys(PROG, "unable to setuid", e);
  return a.slice(1);
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
