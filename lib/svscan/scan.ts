/**
 * svscan's scan (daemontools 0.76 src/svscan.c `doit`/`start`), decoupled from how a
 * supervisor runs: the {@linkcode ScanHost} starts one for `NAME` or `NAME/log`. Entries are
 * keyed on the directory's (st_dev, st_ino); the table holds at most 1000 entries; an entry
 * with a `log` (any file type, as 0.76) gets a pipe held for the entry's life; after the scan,
 * entries whose directory is gone and whose supervisors have both ended are dropped.
 *
 * Messages are 0.76's, `svscan: warning: ...`.
 * @module
 */
import { encode } from "../bytes.ts";
import { ENOENT } from "../errors.ts";
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY } from "../libc.ts";
import { warn, warnSys } from "../msg.ts";
import { isDir, S_IFMT, S_IFREG, stat } from "../stat.ts";
import { NR, sys, sysPath } from "../sys.ts";
import { closeLogPipe, type LogPipe, openLogPipe } from "./pipe.ts";
import { readNames } from "../readdir.ts";

/** 0.76's SERVICES. */
export const MAX_SERVICES = 1000;

/** A running supervisor as the scan sees it. */
export interface Sup {
  /** pid of the supervised process (0: none). */
  readonly pid: number;
}

/** One service directory found by a scan; `S` is the host's supervisor type. */
export interface Entry<S extends Sup = Sup> {
  /** Name under which readdir first returned the directory (used for every start). */
  name: string;
  dev: number;
  ino: number;
  /** `NAME/log` existed when the entry was made. */
  hasLog: boolean;
  pipe?: LogPipe;
  main?: S;
  log?: S;
  /** Seen by the current scan. */
  active: boolean;
  /** Last start attempt of a supervisor for this entry failed; retried at the next scan. */
  failed: boolean;
  /** Waiting for `run` (see {@linkcode Scanner.scan}'s `eager`). */
  deferred: boolean;
  /**
   * An open descriptor of the directory (-1: none). Supervisors reach their files through
   * `/proc/PID/fd/FD`, which follows the directory when it is renamed (daemontools' way to
   * remove a service is `mv DIR/x DIR/.x; svc -dx DIR/.x`): 0.76's supervise had chdir'd.
   */
  fd: number;
}

/** What the scan needs from svscan. */
export interface ScanHost<S extends Sup = Sup> {
  /** Start the supervisor of `e.name` (stdout = pipe's write end when has-log). */
  startMain(e: Entry<S>): S | undefined;
  /** Start the supervisor of `e.name/log` (stdin = pipe's read end). */
  startLog(e: Entry<S>): S | undefined;
  /** Named FIFOs may be used for log pipes. */
  readonly fifos: boolean;
}

/** Key of the entry table for a directory's identity. */
export function entryKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

/** The entry table and the scan itself. */
export class Scanner<S extends Sup = Sup> {
  /** Entries in creation order. */
  readonly entries = new Map<string, Entry<S>>();
  #host: ScanHost<S>;
  /** The last scan met something a later scan may resolve (warnings, failures, deferrals). */
  unsettled = false;

  constructor(host: ScanHost<S>) {
    this.#host = host;
  }

  /**
   * One scan of the current directory. `eager` = false (a scan triggered by a directory
   * event): a NEW directory without an executable `run` yet is left for later (it is being
   * created); the periodic scan (`eager` = true) starts it regardless, as 0.76 would.
   * Returns the names of new directories that were deferred.
   */
  scan(eager = true): string[] {
    const deferred: string[] = [];
    this.unsettled = false;
    for (const e of this.entries.values()) e.active = false;
    // names as bytes (decoded losslessly): one that is not UTF-8 is started like any other
    const names = readNames(".");
    if (typeof names === "number") {
      warnSys("svscan", "unable to read directory", -names);
      this.unsettled = true;
      // 0.76 aborts the scan: nothing is dropped, every entry stays as it was
      for (const e of this.entries.values()) e.active = true;
      return deferred;
    }
    for (const name of names) {
      if (name.startsWith(".")) continue;
      if (this.#start(name, eager) === "deferred") deferred.push(name);
    }
    for (const [k, e] of this.entries) {
      if (!e.active && !e.main && !e.log) {
        dropEntry(e);
        this.entries.delete(k);
      }
    }
    return deferred;
  }

  #start(name: string, eager: boolean): "ok" | "deferred" | "skip" {
    const host = this.#host;
    const st = stat(name);
    if (typeof st === "number") {
      warnSys("svscan", `unable to stat ${name}`, -st);
      this.unsettled = true;
      return "skip";
    }
    if (!isDir(st.mode)) return "skip";
    const { dev, ino } = st;
    const k = entryKey(dev, ino);
    let e = this.entries.get(k);
    // 0.76 starts supervise under the name of the current scan (after a rename: the new one)
    if (e && !e.active) e.name = name;
    if (!e) {
      if (!eager && !runReady(name)) {
        this.unsettled = true;
        return "deferred";
      }
      if (this.entries.size >= MAX_SERVICES) {
        warn("svscan", `unable to start ${name}: running too many services`);
        this.unsettled = true;
        return "skip";
      }
      e = {
        name,
        dev,
        ino,
        hasLog: false,
        active: false,
        failed: false,
        deferred: false,
        fd: -1,
      };
      // 0.76 looks for NAME/log only when the path fits its buffer
      if (encode(name).length <= 255) {
        const log = stat(`${name}/log`);
        if (typeof log !== "number") e.hasLog = true;
        else if (log !== -ENOENT) {
          warnSys("svscan", `unable to stat ${name}/log`, -log);
          this.unsettled = true;
          return "skip";
        }
      }
      if (e.hasLog) {
        const p = openLogPipe(dev, ino, host.fifos);
        if (typeof p === "number") {
          warnSys("svscan", `unable to create pipe for ${name}`, -p);
          this.unsettled = true;
          return "skip";
        }
        e.pipe = p;
      }
      e.fd = sysPath(NR.open, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
      this.entries.set(k, e);
    }
    e.active = true;
    e.failed = false;
    if (!e.main) {
      e.main = host.startMain(e);
      if (!e.main) e.failed = true;
    }
    if (e.hasLog && !e.log) {
      e.log = host.startLog(e);
      if (!e.log) e.failed = true;
    }
    if (e.failed) this.unsettled = true;
    return "ok";
  }
}

/** Release what an entry holds (its pipe and FIFO, its directory fd). */
export function dropEntry(e: Entry<Sup>): void {
  if (e.pipe) closeLogPipe(e.pipe, true);
  if (e.fd >= 0) sys(NR.close, e.fd);
  e.fd = -1;
}

/** `NAME/run` exists and is executable by someone (the last step of making a service). */
export function runReady(name: string): boolean {
  const st = stat(`${name}/run`);
  return typeof st !== "number" && (st.mode & S_IFMT) === S_IFREG && (st.mode & 0o111) !== 0;
}
