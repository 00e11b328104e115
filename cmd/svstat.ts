/**
 * svstat DIR...: one status line per service directory (spec §4).
 *
 * Per DIR: chdir, stat `down`, probe `supervise/ok` with
 * open(O_WRONLY|O_NONBLOCK) (ENXIO = no supervise), read the 18-byte
 * `supervise/status` (layout: lib/status.ts, decoded here inline to keep
 * start-up to as few modules as possible). All lines go to stdout in one
 * write at the end, like 0.76's buffered output.
 * @module
 */
import {
  bindNow,
  cstr,
  errno,
  libc,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  SIG_DFL,
  SIGPIPE,
  SIZEOF_STAT,
} from "../lib/libc.ts";
import { ENOENT, ENXIO, EPIPE, errnoOf, errorStr } from "../lib/errors.ts";
import { writeErr } from "../lib/msg.ts";

/** TAI64 label of unix time 0 (2^62 + 10). */
const TAI_OFFSET = (1n << 62n) + 10n;

/**
 * 0.76 reads into one static buffer: a failed read() (e.g. EISDIR when
 * `status` is a directory) is not caught (signed/unsigned compare), so the
 * previous DIR's bytes (or zeros) are decoded. Kept module-wide to match.
 */
const status = new Uint8Array(18);

const statBuf = new Uint8Array(SIZEOF_STAT);
const DOWN = cstr("down");
const OK = cstr("supervise/ok");
const STATUS = cstr("supervise/status");

/** The report for `dir` (leaves the cwd there when chdir worked). */
function report(dir: string): string {
  const c = libc();
  if (c.chdir(cstr(dir)) === -1) return `unable to chdir: ${errorStr(errno())}`;

  // FFI stat: Deno.statSync's thrown error costs ~30 us per DIR without `down`
  let normallyUp = false;
  if (c.stat(DOWN, statBuf) === -1) {
    const e = errno();
    if (e !== ENOENT) return `unable to stat down: ${errorStr(e)}`;
    normallyUp = true;
  }

  let fd = c.open(OK, O_WRONLY | O_NONBLOCK, 0);
  if (fd === -1) {
    const e = errno();
    if (e === ENXIO) return "supervise not running";
    return `unable to open supervise/ok: ${errorStr(e)}`;
  }
  c.close(fd);

  fd = c.open(STATUS, O_RDONLY | O_NONBLOCK, 0);
  if (fd === -1) return `unable to open supervise/status: ${errorStr(errno())}`;
  const r = Number(c.read(fd, status, 18n));
  c.close(fd);
  if (r >= 0 && r < 18) return "unable to read supervise/status: bad format";

  const v = new DataView(status.buffer);
  const pid = v.getUint32(12, true);
  const when = v.getBigUint64(0);
  const now = TAI_OFFSET + BigInt(Math.floor(Date.now() / 1000));
  // 0.76 prints tai_approx(): the difference goes through a double
  const secs = now < when ? 0n : BigInt(Number(now - when));

  let s = pid ? `up (pid ${pid}) ` : "down ";
  s += `${secs} seconds`;
  if (pid && !normallyUp) s += ", normally down";
  if (!pid && normallyUp) s += ", normally up";
  if (pid && status[16]) s += ", paused";
  if (!pid && status[17] === 0x75) s += ", want up";
  if (pid && status[17] === 0x64) s += ", want down";
  return s;
}

/** Run svstat; returns the exit code. */
export function main(args: string[]): number {
  // one dlopen for every symbol used (cheaper than one each)
  bindNow("__errno_location", "open", "close", "chdir", "fchdir", "stat", "read");
  const c = libc();
  const orig = c.open(cstr("."), O_RDONLY | O_NONBLOCK, 0);
  if (orig === -1) {
    writeErr(`svstat: fatal: unable to open current directory: ${errorStr(errno())}\n`);
    return 111;
  }
  let out = "";
  for (const dir of args) {
    out += `${dir}: ${report(dir)}\n`;
    if (c.fchdir(orig) === -1) {
      writeErr(`svstat: fatal: unable to set directory: ${errorStr(errno())}\n`);
      return 111;
    }
  }
  writeOut(new TextEncoder().encode(out));
  return 0;
}

/** Write all of `b` to stdout; a closed pipe kills us with SIGPIPE as it does 0.76. */
function writeOut(b: Uint8Array): void {
  let off = 0;
  try {
    while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
  } catch (e) {
    if (errnoOf(e) === EPIPE) {
      // Deno ignores SIGPIPE; 0.76 does not, and dies of it
      const c = libc();
      c.signal(SIGPIPE, SIG_DFL);
      c.kill(Deno.pid, SIGPIPE);
    }
    // other write errors are ignored by 0.76 (buffer_flush's result is unused)
  }
}
