/**
 * The pipe between a service and its `log/` service, held by svscan for the entry's life
 * (daemontools keeps an anonymous pipe for the same reason: a restarting logger or service
 * loses no buffered line).
 *
 * Ours is a named FIFO, `DIR/.svscan/pipe.DEV.INO` (DEV/INO of the service directory, the
 * identity svscan keys entries on; a dot name, so scans skip it). svscan opens it three
 * times: O_RDWR first (never blocks, and makes the next two opens not block; it becomes the
 * service's stdout), then one O_RDONLY descriptor (the logger's stdin) and one O_WRONLY
 * descriptor; all close-on-exec in svscan, all blocking (children inherit the file status
 * flags: a non-blocking stdin would break `multilog`). While svscan runs it holds both
 * ends, so the pipe never reports EOF to the logger nor EPIPE to the service.
 *
 * Why a name: when svscan is killed (SIGKILL) its service and logger keep running on that
 * pipe, and the next svscan opens the same pipe again by name, adopts both processes and
 * loses nothing. When the FIFO cannot be made (read-only DIR, ...), an anonymous pipe is
 * used instead, as in daemontools (no reconnection after an svscan restart then).
 * @module
 */
import { EEXIST } from "../errors.ts";
import { O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY } from "../libc.ts";
import { fstat, S_IFIFO, S_IFMT } from "../stat.ts";
import { addr, AT_FDCWD, NR, sys, sysAt, sysPath } from "../sys.ts";

/** One held pipe. */
export interface LogPipe {
  /** Read end (becomes the logger's fd 0). */
  r: number;
  /** Write end, held by svscan. */
  w: number;
  /**
   * Read-write descriptor of a named FIFO (-1 for an anonymous pipe): becomes the service's
   * fd 1. The service then holds a reader itself, so its writes can never fail with EPIPE
   * (or kill it with SIGPIPE), not even when its logger dies while no svscan runs: they wait
   * in the pipe for the next logger.
   */
  rw: number;
  /** FIFO path (relative to svscan's cwd), or undefined for an anonymous pipe. */
  path?: string;
}

/** Directory (inside the scanned directory) holding svscan's own files. */
export const STATE_DIR = ".svscan";

/** FIFO path of the entry with this identity. */
export function fifoPath(dev: number, ino: number): string {
  return `${STATE_DIR}/pipe.${dev}.${ino}`;
}

function openFifo(path: string): LogPipe | undefined {
  const made = sysAt(NR.mknodat, AT_FDCWD, path, S_IFIFO | 0o600, 0);
  if (made < 0 && made !== -EEXIST) return undefined;
  const rw = sysPath(NR.open, path, O_RDWR | O_CLOEXEC, 0);
  if (rw < 0) return undefined;
  const r = sysPath(NR.open, path, O_RDONLY | O_CLOEXEC, 0);
  const w = r < 0 ? -1 : sysPath(NR.open, path, O_WRONLY | O_CLOEXEC, 0);
  const pipe = { r, w, rw, path };
  if (r < 0 || w < 0) {
    closeLogPipe(pipe, false);
    return undefined;
  }
  // a stale regular file of that name would not be a pipe: refuse it
  const st = fstat(r);
  if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFIFO) {
    closeLogPipe(pipe, false);
    return undefined;
  }
  return pipe;
}

/**
 * Open (or create) the entry's pipe. `useFifo` false (no state directory): anonymous.
 * Returns the pipe or `-errno` of the failing pipe2.
 */
export function openLogPipe(dev: number, ino: number, useFifo: boolean): LogPipe | number {
  if (useFifo) {
    const p = openFifo(fifoPath(dev, ino));
    if (p) return p;
  }
  const fds = new Int32Array(2);
  const r = sys(NR.pipe2, addr(fds), O_CLOEXEC);
  if (r < 0) return r;
  return { r: fds[0], w: fds[1], rw: -1 };
}

/** Close whatever is still open; `unlink` also removes the FIFO (entry dropped). */
export function closeLogPipe(p: LogPipe, unlink: boolean): void {
  for (const fd of [p.r, p.w, p.rw]) if (fd >= 0) sys(NR.close, fd);
  p.r = p.w = p.rw = -1;
  // already gone: nothing to do
  if (unlink && p.path) sysPath(NR.unlink, p.path);
}

/** Close svscan's writers: the logger sees EOF once the service's copies are gone too. */
export function closeWriteEnd(p: LogPipe): void {
  if (p.w >= 0) sys(NR.close, p.w);
  if (p.rw >= 0) sys(NR.close, p.rw);
  p.w = p.rw = -1;
}

/** The descriptor a service gets as stdout. */
export function serviceEnd(p: LogPipe): number {
  return p.rw >= 0 ? p.rw : p.w;
}
