/**
 * pgrphack CHILD...: run CHILD as the leader of a new session and process
 * group (`setsid`, errors ignored as in 0.76).
 * @module
 */
import { type Apply, runChain } from "../lib/chain/run.ts";
import { usage } from "../lib/msg.ts";
import { NR, sys } from "../lib/sys.ts";

const PROG = "pgrphack";

/** Start a new session; returns the child's argv. */
export const apply: Apply = (args) => {
  if (args.length < 1) usage(PROG, "pgrphack child");
  sys(NR.setsid);
  return args;
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
