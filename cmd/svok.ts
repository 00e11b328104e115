/**
 * svok DIR: exit 0 if a supervise is running in DIR (spec §5), probed by
 * opening `supervise/ok` with open(O_WRONLY|O_NONBLOCK): ENXIO (FIFO without
 * reader) or ENOENT mean no, exit 100.
 * @module
 */
import { bindNow, cstr, errno, libc, O_NONBLOCK, O_WRONLY } from "../lib/libc.ts";
import { ENOENT, ENXIO, errorStr } from "../lib/errors.ts";
import { writeErr } from "../lib/msg.ts";

/** Run svok; returns the exit code. Extra arguments are ignored, as in 0.76. */
export function main(args: string[]): number {
  if (args.length === 0) {
    writeErr("svok: usage: svok dir\n");
    return 100;
  }
  const dir = args[0];
  // one dlopen for every symbol used (cheaper than one each)
  bindNow("__errno_location", "open", "chdir");
  const c = libc();
  if (c.chdir(cstr(dir)) === -1) {
    writeErr(`svok: fatal: unable to chdir to ${dir}: ${errorStr(errno())}\n`);
    return 111;
  }
  const fd = c.open(cstr("supervise/ok"), O_WRONLY | O_NONBLOCK, 0);
  if (fd === -1) {
    const e = errno();
    if (e === ENOENT || e === ENXIO) return 100;
    writeErr(`svok: fatal: unable to open ${dir}/supervise/ok: ${errorStr(e)}\n`);
    return 111;
  }
  return 0;
}
