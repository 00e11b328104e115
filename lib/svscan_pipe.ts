/**
 * The pipe between a service and its `log/` service, held by svscan for the entry's life
 * (daemontools keeps an anonymous pipe for the same reason: a restarting logger or service
 * loses no buffered line).
 *
 * Ours is a named FIFO, `DIR/.svscan/pipe.DEV.INO` (DEV/INO of the service directory, the
 * identity svscan keys entries on; a dot name, so scans skip it). svscan opens it three
 * times: O_RDWR first (never blocks, and makes the next two opens not block), then one
 * O_RDONLY descriptor (the logger's stdin) and one O_WRONLY descriptor (the service's
 * stdout); all close-on-exec in svscan, all blocking (children inherit the file status
 * flags: a non-blocking stdin would break `multilog`). While svscan runs it holds both
 * ends, so the pipe never reports EOF to the logger nor EPIPE to the service.
 *
 * Why a name: when svscan is killed (SIGKILL) its service and logger keep running on that
 * pipe, and the next svscan opens the same pipe again by name, adopts both processes and
 * loses nothing. When the FIFO cannot be made (read-only DIR, ...), an anonymous pipe is
 * used instead, as in daemontools (no reconnection after an svscan restart then).
 * @module
 */
import { cstr, errno, libc, O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY } from "./libc.ts";
import { EEXIST } from "./errors.ts";

/** One held pipe. */
export interface LogPipe {
  /** Read end (becomes the logger's fd 0). */
  r: number;
  /** Write end (becomes the service's fd 1). */
  w: number;
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
  const c = libc();
  const p = cstr(path);
  if (c.mkfifo(p, 0o600) !== 0 && errno() !== EEXIST) return undefined;
  const rw = c.open(p, O_RDWR | O_CLOEXEC, 0);
  if (rw < 0) return undefined;
  // a stale regular file of that name would not be a pipe: refuse it
  const r = c.open(p, O_RDONLY | O_CLOEXEC, 0);
  const w = r < 0 ? -1 : c.open(p, O_WRONLY | O_CLOEXEC, 0);
  c.close(rw);
  if (r < 0 || w < 0) {
    if (r >= 0) c.close(r);
    return undefined;
  }
  try {
    if (!Deno.statSync(`/proc/self/fd/${r}`).isFifo) throw new Error("not a fifo");
  } catch {
    c.close(r);
    c.close(w);
    return undefined;
  }
  return { r, w, path };
}

/**
 * Open (or create) the entry's pipe. `useFifo` false (no state directory): anonymous.
 * Returns the pipe or the errno of the failing pipe2.
 */
export function openLogPipe(dev: number, ino: number, useFifo: boolean): LogPipe | number {
  if (useFifo) {
    const p = openFifo(fifoPath(dev, ino));
    if (p) return p;
  }
  const fds = new Int32Array(2);
  if (libc().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) return errno();
  return { r: fds[0], w: fds[1] };
}

/** Close whatever is still open; `unlink` also removes the FIFO (entry dropped). */
export function closeLogPipe(p: LogPipe, unlink: boolean): void {
  const c = libc();
  if (p.r >= 0) c.close(p.r);
  if (p.w >= 0) c.close(p.w);
  p.r = p.w = -1;
  if (unlink && p.path) {
    try {
      Deno.removeSync(p.path);
    } catch {
      // already gone
    }
  }
}

/** Close only the write end: the logger sees EOF once the service's copies are gone too. */
export function closeWriteEnd(p: LogPipe): void {
  if (p.w >= 0) libc().close(p.w);
  p.w = -1;
}
