/**
 * svscan's metrics file: the text of `svstat -m` for every directory svscan supervises
 * (`NAME` and `NAME/log`, labelled so, relative to the scanned directory), rewritten
 * atomically (`FILE.new` + rename) after every state change, never on a timer.
 *
 * Switched on by `.svscan-metrics` in the scanned directory, looked at by every scan (a
 * directory event, SIGHUP, svscan's periodic scan):
 * - a symbolic link: the metrics file is its target (relative to the scanned directory when
 *   relative), e.g. `.svscan-metrics -> /var/lib/prometheus/node-exporter/daemontools.prom`;
 *   the temporary `daemontools.prom.new` beside it is not a `*.prom` file, so the textfile
 *   collector never reads half a file;
 * - any other file: svscan rewrites `.svscan-metrics` itself.
 *
 * Changes within one turn of the event loop (a burst of status writes) give one rewrite
 * (queueMicrotask). A file that cannot be written: one warning, supervision goes on; a later
 * success re-arms the warning.
 * @module
 */
import { cstr, decode, encode } from "../bytes.ts";
import { ENOSPC, errorStr } from "../errors.ts";
import { warn } from "../msg.ts";
import { openTrunc } from "../open.ts";
import { lstat, S_IFLNK, S_IFMT } from "../stat.ts";
import { addr, NR, sys, sysPath } from "../sys.ts";
import { toProm } from "./format.ts";
import { inspect } from "./read.ts";

/** The switch, in the scanned directory. */
export const METRICS_LINK = ".svscan-metrics";

/** A directory to report: its label and the path prefix its files are reached through. */
export type Source = [label: string, prefix: string];

/** The metrics file of one svscan. */
export class MetricsFile {
  #path: string | undefined;
  #queued = false;
  #warned = false;
  #sources: () => Source[];
  /** The directories of the last write (a scan that changes none writes nothing). */
  #written = "";

  /** `sources` lists the directories to report, in order, when the file is written. */
  constructor(sources: () => Source[]) {
    this.#sources = sources;
  }

  /** Where the metrics go (undefined: switched off). */
  get path(): string | undefined {
    return this.#path;
  }

  /**
   * After a scan: look at `.svscan-metrics` again, and rewrite the file when it was switched
   * on or moved, or a directory came or went. Nothing else: the file's own rename in the
   * scanned directory is a directory event, and must not cause another write.
   */
  rescanned(): void {
    const before = this.#path;
    if (!this.#configure()) return;
    if (this.#path !== before || key(this.#sources()) !== this.#written) this.changed();
  }

  #configure(): boolean {
    const st = lstat(METRICS_LINK);
    let path: string | undefined;
    if (typeof st !== "number") {
      if ((st.mode & S_IFMT) === S_IFLNK) {
        const buf = new Uint8Array(4096);
        const n = sysPath(NR.readlink, METRICS_LINK, addr(buf), buf.length);
        path = n > 0 ? decode(buf.subarray(0, n)) : undefined;
      } else path = METRICS_LINK;
    } // else: none (or unreadable): off
    if (path !== this.#path) this.#warned = false;
    this.#path = path;
    return path !== undefined;
  }

  /** A state changed: rewrite the file at the end of this turn (once, however many). */
  changed(): void {
    if (this.#path === undefined || this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.write();
    });
  }

  /** Rewrite the file now. */
  write(): void {
    const path = this.#path;
    if (path === undefined) return;
    const now = Date.now();
    const sources = this.#sources();
    this.#written = key(sources);
    const text = toProm(sources.map(([label, prefix]) => inspect(label, prefix, now)));
    const err = writeAtomic(path, text);
    if (err === 0) {
      this.#warned = false;
      return;
    }
    if (this.#warned) return;
    this.#warned = true;
    warn("svscan", `unable to write metrics to ${path}: ${errorStr(err)}`);
  }
}

function key(sources: Source[]): string {
  return sources.map(([label]) => label).join("\0");
}

/** `path.new` + rename; 0 or an errno. */
function writeAtomic(path: string, text: string): number {
  const tmp = `${path}.new`;
  const fd = openTrunc(tmp);
  if (fd < 0) return -fd;
  const bytes = encode(text) as Uint8Array<ArrayBuffer>; // UTF-8: the labels are escaped
  let off = 0;
  let r = 0;
  while (off < bytes.length) {
    r = sys(NR.write, fd, addr(bytes.subarray(off)), bytes.length - off);
    if (r <= 0) break;
    off += r;
  }
  sys(NR.close, fd);
  if (off < bytes.length) {
    sysPath(NR.unlink, tmp);
    return r < 0 ? -r : ENOSPC; // a write that made no progress
  }
  const from = cstr(tmp), to = cstr(path);
  const e = sys(NR.rename, addr(from), addr(to));
  return e < 0 ? -e : 0;
}
