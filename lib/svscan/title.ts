/**
 * svscan showing its errors in its own command line, readproctitle folded in (issue 9): what
 * `svscan DIR 2>&1 | readproctitle service errors: ....` shows, in one process. svscanboot runs
 * `svscan DIR service errors: D`; when svscan has more arguments than DIR and the last, D, is
 * at least 5 dots ({@linkcode titleArg}), {@linkcode showErrors} makes a pipe, puts it on fds 1
 * and 2 (so every service and logger inherits it, as under svscanboot) and shows what arrives
 * there in D exactly as readproctitle does (lib/proctitle.ts). 0.76's svscan ignores arguments
 * after DIR, so D changes nothing else.
 *
 * svscan is the pipe's only reader, so it must never block writing into it: its own messages
 * (lib/msg.ts writes them to fd 2) are put into the title directly, after whatever the pipe
 * already held (the order readproctitle would see). The pipe is read on svscan's reactor, at
 * most {@linkcode CHUNK} bytes per wake-up.
 *
 * The children's fds 1 and 2 are a read-write descriptor of the pipe (opened again through
 * /proc/self/fd): they hold a reader themselves, so when svscan is killed their next error
 * waits in the pipe instead of killing them with SIGPIPE (a blocking pipe, as everywhere).
 * @module
 */
import { encode } from "../bytes.ts";
import { EAGAIN, EINTR } from "../errors.ts";
import { F_SETFL, O_CLOEXEC, O_NONBLOCK, O_RDWR } from "../libc.ts";
import { ProcTitle } from "../proctitle.ts";
import { reactor } from "../reactor.ts";
import { addr, NR, sys, sysPath } from "../sys.ts";
import { setErrWriter } from "../msg.ts";

/** Most bytes read from the pipe per reactor wake-up. */
const CHUNK = 16384;
/** Before one of svscan's own messages, at most this much of the pipe is shown first. */
const BEFORE_OWN = 65536;

/** D, when `args` (svscan's, DIR first) end with a title: more than DIR, the last ≥ 5 dots. */
export function titleArg(args: readonly string[]): Uint8Array | undefined {
  if (args.length < 2) return undefined;
  const d = encode(args[args.length - 1]);
  if (d.length < 5 || d.some((b) => b !== 0x2e)) return undefined;
  return d;
}

/**
 * Show this process's errors and its children's (fds 1 and 2 from now on) in title D.
 * Returns false (nothing changed) when no pipe can be had.
 */
export function showErrors(d: Uint8Array): boolean {
  const fds = new Int32Array(2);
  if (sys(NR.pipe2, addr(fds), O_CLOEXEC) < 0) return false;
  const [r, w] = fds;
  sys(NR.fcntl, r, F_SETFL, O_NONBLOCK); // svscan's own read end only
  // the children's: a read-write description; the plain write end where /proc is not there
  const rw = sysPath(NR.open, `/proc/self/fd/${r}`, O_RDWR | O_CLOEXEC, 0);
  const out = rw >= 0 ? rw : w;
  for (const fd of [1, 2]) sys(NR.dup2, out, fd);
  sys(NR.close, w);
  if (rw >= 0) sys(NR.close, rw);

  const title = new ProcTitle(d);
  const chunk = new Uint8Array(CHUNK);
  /** Show up to `limit` bytes waiting in the pipe; false once it cannot be read. */
  const take = (limit: number): boolean => {
    for (let done = 0; done < limit;) {
      const n = sys(NR.read, r, addr(chunk), Math.min(CHUNK, limit - done));
      if (n <= 0) return n === -EAGAIN || n === -EINTR;
      title.add(chunk.subarray(0, n));
      done += n;
    }
    return true;
  };
  reactor().watch(r, () => {
    if (!take(CHUNK)) reactor().unwatch(r);
  });
  setErrWriter((p) => {
    take(BEFORE_OWN);
    title.add(p);
  });
  return true;
}
