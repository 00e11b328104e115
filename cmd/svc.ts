/**
 * svc [-udopchaitkx] DIR...: send control bytes to supervise (spec §3).
 *
 * The option letters, de-duplicated in order of first appearance, go in one
 * write() to each DIR's `supervise/control`, in argument order. The FIFO is
 * opened O_WRONLY|O_NONBLOCK: with no reader that fails with ENXIO
 * (`supervise not running`) where Deno's open would block.
 * @module
 */
import { encode } from "../lib/bytes.ts";
import { ENXIO } from "../lib/errors.ts";
import { F_GETFL, F_SETFL, O_NONBLOCK } from "../lib/libc.ts";
import { fatalSys, warn, warnSys, writeErr } from "../lib/msg.ts";
import { openRead, openWrite } from "../lib/open.ts";
import { parseOptions } from "../lib/options.ts";
import { NR, sys, sysPath, writeAll } from "../lib/sys.ts";

const OPTIONS = "udopchaitkx";
const USAGE = "svc options: u up, d down, o once, x exit, p pause, c continue, h hup, " +
  "a alarm, i interrupt, t term, k kill\n";

/** Run svc; returns the exit code. */
export function main(args: string[]): number {
  const parsed = parseOptions("svc", args, OPTIONS);
  if (!parsed) {
    writeErr(USAGE);
    return 100;
  }
  let data = "";
  for (const { opt } of parsed.opts) if (!data.includes(opt)) data += opt;
  const bytes = encode(data);

  // SIGPIPE: Deno's runtime already ignores it, so a vanished reader gives EPIPE
  const orig = openRead(".");
  if (orig < 0) fatalSys("svc", "unable to open current directory", -orig);
  for (const dir of parsed.operands) {
    const r = sysPath(NR.chdir, dir);
    if (r < 0) {
      warnSys("svc", `unable to chdir to ${dir}`, -r);
    } else {
      const fd = openWrite("supervise/control");
      if (fd === -ENXIO) {
        warn("svc", `unable to control ${dir}: supervise not running`);
      } else if (fd < 0) {
        warnSys("svc", `unable to control ${dir}`, -fd);
      } else {
        sys(NR.fcntl, fd, F_SETFL, sys(NR.fcntl, fd, F_GETFL, 0) & ~O_NONBLOCK);
        const e = writeAll(fd, bytes);
        if (e !== 0) warnSys("svc", `error writing commands to ${dir}`, e);
        sys(NR.close, fd);
      }
    }
    const back = sys(NR.fchdir, orig);
    if (back < 0) fatalSys("svc", "unable to set directory", -back);
  }
  return 0;
}
