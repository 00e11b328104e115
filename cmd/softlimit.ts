/**
 * softlimit [-acdflmoprst VALUE]... CHILD...: lower soft resource limits,
 * then run CHILD. VALUE is decimal (wrapping like 0.76's scan_ulong; above
 * the hard limit it is clamped), `=` for the hard limit, or `-` (extension
 * from daemontools-encore) for unlimited soft and hard.
 *
 * Address space, data, stack, CPU time, open files and processes soft
 * limits are applied right before the exec (the Deno runtime running the
 * rest of an in-process chain consumes them); their hard-limit part, the only part
 * that can fail, is done at once so errors show where 0.76 shows them.
 * @module
 */
import type { Chain } from "../lib/chain/chain.ts";
import { isDeferred } from "../lib/chain/limits.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import {
  RLIM_INFINITY,
  RLIMIT_AS,
  RLIMIT_CORE,
  RLIMIT_CPU,
  RLIMIT_DATA,
  RLIMIT_FSIZE,
  RLIMIT_MEMLOCK,
  RLIMIT_NOFILE,
  RLIMIT_NPROC,
  RLIMIT_RSS,
  RLIMIT_STACK,
} from "../lib/libc.ts";
import { fatalSys, usage, writeErr } from "../lib/msg.ts";
import { getopt, optionProblemText } from "../lib/options.ts";
import { addr, NR, sys } from "../lib/sys.ts";

const PROG = "softlimit";
const USAGE = "softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] " +
  "[-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] " +
  "[-s stackbytes] [-t cpusecs] child";

/** Resources each option sets, in 0.76's order. */
const RESOURCES: Record<string, number[]> = {
  a: [RLIMIT_AS],
  c: [RLIMIT_CORE],
  d: [RLIMIT_DATA],
  f: [RLIMIT_FSIZE],
  l: [RLIMIT_MEMLOCK],
  m: [RLIMIT_DATA, RLIMIT_STACK, RLIMIT_MEMLOCK, RLIMIT_AS],
  o: [RLIMIT_NOFILE],
  p: [RLIMIT_NPROC],
  r: [RLIMIT_RSS],
  s: [RLIMIT_STACK],
  t: [RLIMIT_CPU],
};

const MAX = (1n << 64n) - 1n;

/** 0.76's scan_ulong over the whole word: digits only (none = 0), wrapping at 2^64. */
function scanUlong(s: string): bigint | undefined {
  let u = 0n;
  for (const ch of s) {
    const d = ch.charCodeAt(0) - 48;
    if (ch.length !== 1 || d < 0 || d > 9) return undefined;
    u = (u * 10n + BigInt(d)) & MAX;
  }
  return u;
}

function doit(ctx: Chain, resource: number, arg: string): void {
  const r = new BigUint64Array(2);
  const got = sys(NR.getrlimit, resource, addr(r));
  if (got < 0) fatalSys(PROG, "getrlimit failed", -got);
  const pending = ctx.limits.pendingSoft(resource);
  if (pending !== undefined) r[0] = pending;
  let max: bigint | undefined;
  if (arg === "=") {
    r[0] = r[1];
  } else if (arg === "-") {
    r[0] = r[1] = max = RLIM_INFINITY;
  } else {
    const u = scanUlong(arg);
    if (u === undefined) usage(PROG, USAGE);
    r[0] = u > r[1] ? r[1] : u;
  }
  if (isDeferred(resource)) {
    const e = ctx.limits.limit(resource, r[0], max);
    if (e !== 0) fatalSys(PROG, "setrlimit failed", e);
  } else {
    const set = sys(NR.setrlimit, resource, addr(r));
    if (set < 0) fatalSys(PROG, "setrlimit failed", -set);
  }
}

/** Set the limits in option order; returns the child's argv. */
export const apply: Apply = (args, ctx, argv0) => {
  const p = getopt(args, "a:c:d:f:l:m:o:p:r:s:t:");
  // 0.76 applies each option as getopt returns it: a bad option is told after those before it
  for (const o of p.opts) for (const res of RESOURCES[o.opt]) doit(ctx, res, o.arg!);
  if (p.problem) {
    writeErr(optionProblemText(argv0.slice(argv0.lastIndexOf("/") + 1), p.problem));
    usage(PROG, USAGE);
  }
  if (p.operands.length < 1) usage(PROG, USAGE);
  return p.operands;
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
