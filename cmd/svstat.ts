/**
 * svstat DIR...: one status line per service directory (spec §4).
 *
 * Per DIR: chdir, stat `down`, probe `supervise/ok` with
 * open(O_WRONLY|O_NONBLOCK) (ENXIO = no supervise), read the 18-byte
 * `supervise/status` (layout: lib/status.ts, decoded here inline to keep
 * start-up to as few modules as possible). All lines go to stdout in one
 * write at the end, like 0.76's buffered output.
 *
 * Beyond 0.76, only for a directory with `notification-fd` or `finish` (docs/lifecycle.md):
 * `, ready N seconds` / `, not ready` after an up service's seconds (a usable
 * `notification-fd` only), `, finishing` after a
 * down one's while `./finish` runs (from `supervise/extra`).
 * Extensions: `svstat -j DIR...` (JSON Lines) and `svstat -m DIR...` (Prometheus text), see
 * lib/svstat/machine.ts and docs/status.md. Only a FIRST argument of exactly `-j` or `-m`
 * selects them, and every argument after it is a DIR. Anything else is 0.76's svstat, which
 * takes every argument as a DIR: `svstat -- -j` reports on `--` and `-j`, byte for byte as
 * Debian's does (so `--` ends nothing: there are no options to end; `svstat ./-j` or
 * `svstat -- -j` reach a directory named `-j`, and `svstat -j -j` reports one as JSON).
 * @module
 */
import { cat, encode } from "../lib/bytes.ts";
import { EINTR, ENOENT, ENXIO, EPIPE } from "../lib/errors.ts";
import { readExtra } from "../lib/extra_status.ts";
import { SIGPIPE } from "../lib/libc.ts";
import { notifyFdOf } from "../lib/lifecycle.ts";
import { fatalSys, sysText } from "../lib/msg.ts";
import { openRead, openWrite } from "../lib/open.ts";
import { stat } from "../lib/stat.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";
import { moduleUrl } from "../lib/programs.ts";
import { TAI_OFFSET } from "../lib/tai64n.ts";

/**
 * 0.76 reads into one static buffer: a failed read() (e.g. EISDIR when
 * `status` is a directory) is not caught (signed/unsigned compare), so the
 * previous DIR's bytes (or zeros) are decoded. Kept module-wide to match.
 */
const status = new Uint8Array(18);
const NL = new Uint8Array([10]);
/** The kernel's `struct sigaction` for SIG_DFL, no flags, nothing masked. */
const SIGACTION_DEFAULT = new Uint8Array(32);

/** The report for `dir` (leaves the cwd there when chdir worked). */
function report(dir: string): string | Uint8Array {
  const r = sysPath(NR.chdir, dir);
  if (r < 0) return sysText("unable to chdir", -r);

  const down = stat("down");
  const normallyUp = typeof down === "number";
  if (normallyUp && down !== -ENOENT) return sysText("unable to stat down", -down);

  let fd = openWrite("supervise/ok");
  if (fd === -ENXIO) return "supervise not running";
  if (fd < 0) return sysText("unable to open supervise/ok", -fd);
  sys(NR.close, fd);

  fd = openRead("supervise/status");
  if (fd < 0) return sysText("unable to open supervise/status", -fd);
  const n = sys(NR.read, fd, addr(status), 18);
  sys(NR.close, fd);
  if (n >= 0 && n < 18) return "unable to read supervise/status: bad format";

  const v = new DataView(status.buffer);
  const pid = v.getUint32(12, true);
  const when = v.getBigUint64(0);
  const now = TAI_OFFSET + BigInt(Math.floor(Date.now() / 1000));
  // 0.76 prints tai_approx(): the difference goes through a double
  const secs = now < when ? 0n : BigInt(Number(now - when));

  let s = pid ? `up (pid ${pid}) ` : "down ";
  s += `${secs} seconds`;
  if (pid && notifyFdOf(".") !== undefined) {
    const ready = readExtra(".")?.ready;
    if (ready && ready.pid === pid) {
      const at = ready.stamp.sec;
      s += `, ready ${now < at ? 0n : BigInt(Number(now - at))} seconds`;
    } else s += ", not ready";
  }
  if (!pid && typeof stat("finish") !== "number" && readExtra(".")?.finish) s += ", finishing";
  if (pid && !normallyUp) s += ", normally down";
  if (!pid && normallyUp) s += ", normally up";
  if (pid && status[16]) s += ", paused";
  if (!pid && status[17] === 0x75) s += ", want up";
  if (pid && status[17] === 0x64) s += ", want down";
  return s;
}

/** Run svstat; returns the exit code. */
export function main(args: string[]): number | Promise<number> {
  if (args[0] === "-j" || args[0] === "-m") return machine(args[0], args.slice(1));
  const orig = openRead(".");
  if (orig < 0) fatalSys("svstat", "unable to open current directory", -orig);
  const out: Uint8Array[] = [];
  for (const dir of args) {
    const r = report(dir);
    out.push(encode(`${dir}: `), typeof r === "string" ? encode(r) : r, NL);
    const back = sys(NR.fchdir, orig);
    if (back < 0) fatalSys("svstat", "unable to set directory", -back);
  }
  writeOut(cat(...out));
  return 0;
}

/** `-j`/`-m`: their modules are loaded only for them (plain svstat's start-up stays small). */
async function machine(mode: "-j" | "-m", dirs: string[]): Promise<number> {
  // a URL built at run time, so the module stays out of plain svstat's start-up graph
  const mod = await import(moduleUrl("lib/svstat/machine"));
  return (mod as typeof import("../lib/svstat/machine.ts")).machine(mode, dirs, writeOut);
}

/** Write all of `b` to stdout; a closed pipe kills us with SIGPIPE as it does 0.76. */
function writeOut(b: Uint8Array<ArrayBuffer>): void {
  let off = 0;
  while (off < b.length) {
    const n = sys(NR.write, 1, addr(b.subarray(off)), b.length - off);
    if (n === -EINTR) continue;
    if (n === -EPIPE) {
      // Deno ignores SIGPIPE; 0.76 does not, and dies of it: back to the default, then raise it
      sys(NR.rt_sigaction, SIGPIPE, addr(SIGACTION_DEFAULT), 0, 8);
      sys(NR.kill, sys(NR.getpid), SIGPIPE);
    }
    // other write errors are ignored by 0.76 (buffer_flush's result is unused)
    if (n < 0) return;
    off += n;
  }
}
