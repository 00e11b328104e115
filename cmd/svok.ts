/**
 * svok DIR: exit 0 if a supervise is running in DIR (spec §5), probed by
 * opening `supervise/ok` with open(O_WRONLY|O_NONBLOCK): ENXIO (FIFO without
 * reader) or ENOENT mean no, exit 100.
 * @module
 */
import { ENOENT, ENXIO } from "../lib/errors.ts";
import { fatalSys, usage } from "../lib/msg.ts";
import { openWrite } from "../lib/open.ts";
import { NR, sysPath } from "../lib/sys.ts";

/** Run svok; returns the exit code. Extra arguments are ignored, as in 0.76. */
export function main(args: string[]): number {
  if (args.length === 0) usage("svok", "svok dir");
  const dir = args[0];
  const r = sysPath(NR.chdir, dir);
  if (r < 0) fatalSys("svok", `unable to chdir to ${dir}`, -r);
  const fd = openWrite("supervise/ok");
  if (fd === -ENOENT || fd === -ENXIO) return 100;
  if (fd < 0) fatalSys("svok", `unable to open ${dir}/supervise/ok`, -fd);
  return 0;
}
