/**
 * The s6-style files of a service directory that go beyond daemontools 0.76 (docs/lifecycle.md):
 * `notification-fd`, `down-signal`, `timeout-kill`, `finish`, `timeout-finish`,
 * `restart-backoff`. Parsing is pure ({@linkcode parseLifecycle}); {@linkcode readLifecycle}
 * reads the files (bounded: one small read each, regular files only). With none of the files
 * present the result is {@linkcode PLAIN}: 0.76's behaviour.
 * @module
 */
import { decode } from "./bytes.ts";
import { readSmall } from "./open.ts";
import { stat } from "./stat.ts";

/** What the lifecycle files ask for. */
export interface Lifecycle {
  /** Descriptor number `./run` gets the readiness pipe on (undefined: no readiness). */
  notifyFd: number | undefined;
  /** What `svc -d` sends instead of TERM (CONT still follows). */
  downSignal: number;
  /** KILL this many ms after the down signal if still there (0: never). */
  timeoutKill: number;
  /** `./finish` exists (it is run after `./run` ends). */
  finish: boolean;
  /** KILL `./finish` after this many ms (0: never). */
  timeoutFinish: number;
  /** Crash-loop back-off ceiling in ms (undefined: 0.76's fixed one-second pause). */
  backoffMax: number | undefined;
}

/** No lifecycle file: daemontools 0.76. */
export const PLAIN: Readonly<Lifecycle> = Object.freeze({
  notifyFd: undefined,
  downSignal: 15,
  timeoutKill: 0,
  finish: false,
  timeoutFinish: 5000,
  backoffMax: undefined,
});

/** Highest accepted `notification-fd` (the child's descriptors above 2 are closed up to it). */
export const MAX_NOTIFY_FD = 1023;
/** Default `timeout-finish` (s6's). */
export const DEFAULT_TIMEOUT_FINISH = 5000;

/** Linux x86_64 signal numbers by name (without `SIG`). */
export const SIGNALS: Readonly<Record<string, number>> = Object.freeze({
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  PWR: 30,
  SYS: 31,
});

/** The raw contents of the files (undefined: absent), as {@linkcode readLifecycle} found them. */
export interface LifecycleFiles {
  "notification-fd"?: string;
  "down-signal"?: string;
  "timeout-kill"?: string;
  "timeout-finish"?: string;
  "restart-backoff"?: string;
  /** `finish` exists (any type: a missing execute bit is reported when it is started). */
  finish?: boolean;
}

/** The names of the files read as text. */
export const TEXT_FILES = [
  "notification-fd",
  "down-signal",
  "timeout-kill",
  "timeout-finish",
  "restart-backoff",
] as const;

/** The first line, trimmed of blanks (s6 reads the number at the start of the file). */
function firstLine(s: string): string {
  const nl = s.indexOf("\n");
  return (nl < 0 ? s : s.slice(0, nl)).trim();
}

/** A decimal unsigned integer, or undefined. */
export function parseUint(s: string): number | undefined {
  const t = firstLine(s);
  if (!/^[0-9]{1,15}$/.test(t)) return undefined;
  return Number(t);
}

/** `TERM`, `SIGTERM`, `term` or `15`; undefined for anything else. */
export function parseSignal(s: string): number | undefined {
  const t = firstLine(s).toUpperCase();
  if (/^[0-9]{1,2}$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 31 ? n : undefined;
  }
  const name = t.startsWith("SIG") ? t.slice(3) : t;
  return Object.hasOwn(SIGNALS, name) ? SIGNALS[name] : undefined;
}

/**
 * The lifecycle the files ask for, and a warning (text after `supervise: warning: `) for each
 * file that holds something unusable: that file then counts as absent.
 */
export function parseLifecycle(
  f: LifecycleFiles,
  dir: string,
): { cfg: Lifecycle; warnings: string[] } {
  const cfg: Lifecycle = { ...PLAIN };
  const warnings: string[] = [];
  const bad = (name: string, why: string) => warnings.push(`${dir}/${name}: ${why}, ignored`);
  const nfd = f["notification-fd"];
  if (nfd !== undefined) {
    const n = parseUint(nfd);
    if (n === undefined) bad("notification-fd", "not a descriptor number");
    else if (n <= 2) bad("notification-fd", "descriptor 0, 1 or 2 is already in use");
    else if (n > MAX_NOTIFY_FD) bad("notification-fd", `descriptor above ${MAX_NOTIFY_FD}`);
    else cfg.notifyFd = n;
  }
  const ds = f["down-signal"];
  if (ds !== undefined) {
    const s = parseSignal(ds);
    if (s === undefined) bad("down-signal", "not a signal name");
    else cfg.downSignal = s;
  }
  for (
    const [name, key] of [["timeout-kill", "timeoutKill"], [
      "timeout-finish",
      "timeoutFinish",
    ]] as const
  ) {
    const v = f[name];
    if (v === undefined) continue;
    const n = parseUint(v);
    if (n === undefined || n === 0) bad(name, "not a positive number of milliseconds");
    else cfg[key] = n;
  }
  const rb = f["restart-backoff"];
  if (rb !== undefined) {
    const n = parseUint(rb);
    if (n === undefined || n === 0) bad("restart-backoff", "not a positive number of milliseconds");
    else cfg.backoffMax = n;
  }
  cfg.finish = f.finish === true;
  return { cfg, warnings };
}

const buf = new Uint8Array(64);

/** The first 64 bytes of regular file `path` as text; undefined when absent or not a file. */
function small(path: string): string | undefined {
  const b = readSmall(path, buf);
  return b === undefined ? undefined : decode(b);
}

/**
 * Read the lifecycle files of the directory at `root` (`.` or a path): one open per file, so
 * a directory without any costs six failed opens.
 */
export function readLifecycleFiles(root: string): LifecycleFiles {
  const p = (name: string) => (root === "." ? name : `${root}/${name}`);
  const f: LifecycleFiles = {};
  for (const name of TEXT_FILES) {
    const v = small(p(name));
    if (v !== undefined) f[name] = v;
  }
  if (typeof stat(p("finish")) !== "number") f.finish = true;
  return f;
}

/**
 * The usable `notification-fd` of the directory at `dir` (as given, `.` for the cwd), or
 * undefined: what decides whether svstat and svwait speak of readiness.
 */
export function notifyFdOf(dir: string): number | undefined {
  const v = small(dir === "." ? "notification-fd" : `${dir}/notification-fd`);
  if (v === undefined) return undefined;
  const n = parseUint(v);
  return n !== undefined && n > 2 && n <= MAX_NOTIFY_FD ? n : undefined;
}
