/**
 * envuidgid ACCOUNT CHILD...: run CHILD with `GID` and `UID` set to ACCOUNT's
 * gid and uid (decimal) in its environment.
 * @module
 */
import { getpwnam } from "../lib/account.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import { fatal, usage } from "../lib/msg.ts";

const PROG = "envuidgid";

/** Record GID and UID for the child; returns the child's argv. */
export const apply: Apply = (args, ctx) => {
  if (args.length < 2) usage(PROG, "envuidgid account child");
  const pw = getpwnam(args[0]);
  if (!pw) fatal(PROG, `unknown account ${args[0]}`);
  ctx.env.set("GID", String(pw.gid));
  ctx.env.set("UID", String(pw.uid));
  return args.slice(1);
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
