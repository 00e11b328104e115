/**
 * setlock [-nNxX] FILE CHILD...: open FILE (append, create 0600, never
 * truncated), take an exclusive flock on it (`-n`: fail at once if held,
 * `-N`: wait, the default), then run CHILD with the locked descriptor open
 * (not close-on-exec), so the lock lasts as long as CHILD and whatever
 * inherits it. `-x`: exit 0 silently if FILE cannot be opened or locked.
 * @module
 */
import { type Apply, runChain } from "../lib/chain/run.ts";
import {
  LOCK_EX,
  LOCK_NB,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_WRONLY,
} from "../lib/libc.ts";
import { fatalSys, usage, writeErr } from "../lib/msg.ts";
import { getopt, optionProblemText } from "../lib/options.ts";
import { NR, sys, sysPath } from "../lib/sys.ts";

const PROG = "setlock";
const USAGE = "setlock [ -nNxX ] file program [ arg ... ]";

/** Open and lock FILE; returns the child's argv. */
export const apply: Apply = (args, ctx, argv0) => {
  const p = getopt(args, "nNxX");
  if (p.problem) {
    writeErr(optionProblemText(argv0.slice(argv0.lastIndexOf("/") + 1), p.problem));
    usage(PROG, USAGE);
  }
  let ndelay = false;
  let quiet = false;
  for (const o of p.opts) {
    if (o.opt === "n") ndelay = true;
    else if (o.opt === "N") ndelay = false;
    else if (o.opt === "x") quiet = true;
    else quiet = false;
  }
  if (p.operands.length < 2) usage(PROG, USAGE);
  const file = p.operands[0];
  // close-on-exec here: the runtime may go on; the exec hands it on at 0.76's number
  const flags = O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT | O_CLOEXEC;
  const fd = sysPath(NR.open, file, flags, 0o600);
  if (fd < 0) {
    if (quiet) Deno.exit(0);
    fatalSys(PROG, `unable to open ${file}`, -fd);
  }
  const locked = sys(NR.flock, fd, ndelay ? LOCK_EX | LOCK_NB : LOCK_EX);
  if (locked < 0) {
    if (quiet) Deno.exit(0);
    fatalSys(PROG, `unable to lock ${file}`, -locked);
  }
  ctx.fds.handOn(fd);
  return p.operands.slice(1);
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
