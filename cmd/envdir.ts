/**
 * envdir [-p PREFIX] DIR CHILD...: for every file NAME in DIR not starting
 * with `.`, set NAME (PREFIX+NAME with `-p`, an extension from
 * daemontools-encore) to the file's first line with trailing blanks removed
 * and NULs turned into newlines, or remove it if the file is empty; then
 * run CHILD (the reading: lib/chain/envfiles.ts).
 * @module
 */
import { cat } from "../lib/bytes.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import { envFiles } from "../lib/chain/envfiles.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../lib/libc.ts";
import { fatalSys, usage } from "../lib/msg.ts";
import { AT_FDCWD, NR, sys, sysPath } from "../lib/sys.ts";

const PROG = "envdir";

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
  const vars = envFiles(AT_FDCWD);
  if (!Array.isArray(vars)) {
    const what = vars.name
      ? cat("unable to read ", fn, "/", vars.name)
      : `unable to read directory ${fn}`;
    fatalSys(PROG, what, vars.errno);
  }
  const pfx = cat(prefix);
  for (const [name, value] of vars) ctx.env.set(cat(pfx, name), value);
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
