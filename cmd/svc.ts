/**
 * svc [-udopchaitkx] DIR...: send control bytes to supervise (spec §3).
 *
 * The option letters, de-duplicated in order of first appearance, go in one
 * write() to each DIR's `supervise/control`, in argument order. The FIFO is
 * opened O_WRONLY|O_NONBLOCK through FFI: with no reader that fails with
 * ENXIO (`supervise not running`) where Deno's open would block.
 * @module
 */
import {
  bindNow,
  cstr,
  errno,
  F_GETFL,
  F_SETFL,
  libc,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
} from "../lib/libc.ts";
import { EINTR, ENXIO, errorStr } from "../lib/errors.ts";
import { warn, writeErr } from "../lib/msg.ts";
import { parseOptions } from "../lib/options.ts";

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
  const bytes = cstr(data); // the trailing NUL is not written

  // one dlopen for every symbol used (cheaper than one each)
  bindNow("__errno_location", "open", "close", "chdir", "fchdir", "fcntl", "write");
  const c = libc();
  // SIGPIPE: Deno's runtime already ignores it, so a vanished reader gives EPIPE
  const orig = c.open(cstr("."), O_RDONLY | O_NONBLOCK, 0);
  if (orig === -1) {
    writeErr(`svc: fatal: unable to open current directory: ${errorStr(errno())}\n`);
    return 111;
  }
  const control = cstr("supervise/control");
  for (const dir of parsed.operands) {
    if (c.chdir(cstr(dir)) === -1) {
      warn("svc", `unable to chdir to ${dir}: ${errorStr(errno())}`);
    } else {
      const fd = c.open(control, O_WRONLY | O_NONBLOCK, 0);
      if (fd === -1) {
        const e = errno();
        warn(
          "svc",
          `unable to control ${dir}: ${e === ENXIO ? "supervise not running" : errorStr(e)}`,
        );
      } else {
        c.fcntl(fd, F_SETFL, c.fcntl(fd, F_GETFL, 0) & ~O_NONBLOCK);
        const e = writeAll(fd, bytes, data.length);
        if (e !== 0) warn("svc", `error writing commands to ${dir}: ${errorStr(e)}`);
        c.close(fd);
      }
    }
    if (c.fchdir(orig) === -1) {
      writeErr(`svc: fatal: unable to set directory: ${errorStr(errno())}\n`);
      return 111;
    }
  }
  return 0;
}

/** Write `len` bytes of `b` (normally one write()); 0 or the errno of the failure. */
function writeAll(fd: number, b: Uint8Array<ArrayBuffer>, len: number): number {
  const c = libc();
  let off = 0;
  while (off < len) {
    const n = Number(c.write(fd, off === 0 ? b : b.subarray(off), BigInt(len - off)));
    if (n === -1) {
      const e = errno();
      if (e === EINTR) continue; // as djb's allwrite
      return e;
    }
    off += n;
  }
  return 0;
}
