/**
 * svscan's hosted loggers: at each start of a `log/` service, svscan reads `log/run` again and,
 * when it could only exec our own multilog (lib/svscan/logrun.ts), runs that multilog inside
 * its own process as a {@linkcode HostedMultilog} on svscan's reactor instead of spawning it.
 * The supervisor (lib/service.ts) sees a {@linkcode HostedChild} whose pid is svscan's; the
 * signals its control letters would send go to the logger as multilog would take them
 * (docs/svscan.md, "Hosted loggers"):
 *
 * - ALRM (`svc -a`): rotate now;
 * - TERM (`svc -t`, `svc -d`): end as multilog on TERM (finish the line, write, exit 0);
 * - STOP / CONT (`svc -p` / `svc -c`): stop / resume reading (lines wait in the pipe);
 * - signals whose default action is to ignore (CHLD, URG, WINCH): nothing;
 * - any other (`svc -k`, `-i`, `-h`, ...): end at once, as killed by it: what was read is
 *   written (a partial line ends as at the end of input), the rest waits in the pipe.
 *
 * `setuidgid USER` and `envdir DIR` are carried out at each start as the process would
 * (lib/svscan/hostlog.ts {@linkcode LoggerContext}): every piece of the logger's work runs on
 * svscan's thread with USER's file-system credentials (setfsuid, setfsgid and setgroups, raw
 * system calls: they change only the calling thread), restored after; its processor runs
 * through our own setuidgid; DIR's variables make the processor's environment; its messages go
 * where the script sends its stderr (`exec 2>&1`: svscan's fd 1).
 *
 * Never hosted (they run as processes, as before): a `log/run` the grammar refuses or whose
 * programs are not ours, `setuidgid` in it while svscan is not root (see
 * {@linkcode notHosted}), a log service without svscan's pipe, and every logger while
 * `.svscan-no-hosted-loggers` exists in the scanned directory (the opt-out).
 * @module
 */
import { cat, decode, encode, startsWith } from "../bytes.ts";
import { type Account, getpwnam } from "../account.ts";
import { Environ } from "../chain/environ.ts";
import { envFiles } from "../chain/envfiles.ts";
import { EPERM } from "../errors.ts";
import { line, setErrWriter, sysText, writeErr } from "../msg.ts";
import type { ProcessorAs } from "../multilog/processor.ts";
import {
  O_CLOEXEC,
  O_DIRECTORY,
  O_NONBLOCK,
  O_RDONLY,
  SIGALRM,
  SIGCHLD,
  SIGCONT,
  SIGSTOP,
  SIGTERM,
  SIGWINCH,
} from "../libc.ts";
import {
  HostedMultilog,
  type HostedPool,
  losslessScript,
  openStaging,
} from "../multilog/hosted.ts";
import { parseScript, type Script } from "../multilog/script.ts";
import type { Reactor } from "../reactor.ts";
import type { HostedChild } from "../service.ts";
import { readSmall } from "../open.ts";
import { fstat, stat } from "../stat.ts";
import { addr, NR, sys, sysAt, sysPath, writeAll } from "../sys.ts";
import { hostable, type LogRun, systemResolver } from "./logrun.ts";

/** The opt-out: while this file exists in the scanned directory, every `log/run` is spawned. */
export const NO_HOSTED_FILE = ".svscan-no-hosted-loggers";

const PATH_EQ = encode("PATH=");

/** A `log/run` longer than this is not read (it is not a one-line script): spawned. */
const MAX_RUN = 16384;

/** O_PATH (not in lib/libc.ts): a descriptor that only names a file; no permission on it needed. */
const O_PATH = 0o10000000;

/** SIGURG (not in lib/libc.ts): ignored by default, as CHLD and WINCH. */
const SIGURG = 23;

/**
 * Why a `log/run` the grammar accepts is still run as a process, or undefined: hosted. Only
 * root can take another account's file-system credentials; the process form of `setuidgid`
 * fails for anyone else, with setuidgid's own message, so that is left to the process. And
 * only scripts a hosted logger reads losslessly (one log directory, no other action) are
 * hosted: a multilog process keeps its lines when svscan is killed, so must a hosted one.
 */
export function notHosted(run: LogRun, script: Script, euid = ownEuid): string | undefined {
  if (run.user !== undefined && euid !== 0) return "setuidgid needs root";
  // a process outlives a crash of svscan; a hosted logger must not lose more (lib/multilog/hosted.ts)
  if (!losslessScript(script)) return "not one directory alone: not lossless";
  return undefined;
}

const ownEuid = sys(NR.geteuid);

/** The `PATH` value of an environment (what sh would search), or undefined. */
export function pathOf(env: readonly (string | Uint8Array)[]): Uint8Array | undefined {
  for (const e of env) {
    const b = typeof e === "string" ? encode(e) : e;
    if (startsWith(b, PATH_EQ)) return b.subarray(5);
  }
  return undefined;
}

/** The bytes of a regular file up to MAX_RUN (undefined: not one, unreadable, or longer). */
function readRun(path: string): Uint8Array | undefined {
  const b = readSmall(path, runBuf);
  return b === undefined || b.length > MAX_RUN ? undefined : b.slice();
}

const runBuf = new Uint8Array(MAX_RUN + 1);

/** What {@linkcode hostLogger} needs. */
export interface HostLogOptions {
  reactor: Reactor;
  /** the log service directory (reachable from svscan's cwd) */
  path: string;
  /** the read end of the entry's pipe (kept by svscan; a descriptor of its own is opened) */
  pipe: number;
  /** the environment svscan gives `./run` (its PATH decides what `multilog` is) */
  env: readonly (string | Uint8Array)[];
  pool?: HostedPool;
}

/** Decide whether `o.path`'s `run` is hosted now: it and multilog's script, or undefined (spawn). */
export function hostedRun(o: HostLogOptions): { run: LogRun; script: Script } | undefined {
  if (o.pipe < 0) return undefined;
  if (typeof stat(NO_HOSTED_FILE) !== "number") return undefined;
  const text = readRun(`${o.path}/run`);
  if (text === undefined) return undefined;
  const p = hostable(text, pathOf(o.env), systemResolver);
  if (!p.ok) return undefined;
  const script = parseScript(p.run.args);
  return notHosted(p.run, script) === undefined ? { run: p.run, script } : undefined;
}

// ---- the logger's context: its account, its stderr, its processor -------------------------

/** The credentials a switch back gives: svscan's own (read once, on svscan's thread). */
const ownEgid = sys(NR.getegid);
const ownGroups = (() => {
  const g = new Uint32Array(Math.max(sys(NR.getgroups, 0, 0), 0));
  const n = sys(NR.getgroups, g.length, addr(g));
  return n < 0 ? new Uint32Array(0) : g.subarray(0, n);
})();

/** The calling thread's file-system identity: setgroups, setfsgid, setfsuid (0 or errno). */
function fsIdentity(uid: number, gid: number, groups: Uint32Array<ArrayBuffer>): number {
  const r = sys(NR.setgroups, groups.length, addr(groups));
  if (r < 0) return -r;
  // setfsuid/setfsgid return the previous id whatever happens; -1 asks for the current one
  sys(NR.setfsgid, gid);
  if (sys(NR.setfsgid, -1) !== gid) return EPERM;
  sys(NR.setfsuid, uid);
  if (sys(NR.setfsuid, -1) !== uid) return EPERM;
  return 0;
}

/** Take USER's file-system credentials on this thread, or (undefined) svscan's again. */
function becomeFs(user: Account | undefined): number {
  if (user === undefined) {
    // the uid first: back to 0, the thread's file-system capabilities come back with it
    sys(NR.setfsuid, ownEuid);
    return fsIdentity(ownEuid, ownEgid, ownGroups);
  }
  return fsIdentity(user.uid, user.gid, Uint32Array.of(user.gid));
}

/** fd 1, errors ignored (as a process whose stderr is gone) */
const toStdout = (b: Uint8Array) => void writeAll(1, b);
/** lib/msg.ts's writer while a context sends to fd 1, put back when it is left */
let savedWriter: ((b: Uint8Array) => void) | undefined;

/** True when fds 1 and 2 are the same file (then fd 2's way, lib/msg.ts, serves both). */
function sameOut(): boolean {
  const a = fstat(1), b = fstat(2);
  if (typeof a === "number" || typeof b === "number") return typeof a === typeof b;
  return a.dev === b.dev && a.ino === b.ino;
}

/** The context the thread is in now (undefined: svscan's own). */
let active: LoggerContext | undefined;

function switchTo(next: LoggerContext | undefined): void {
  const prev = active;
  active = next;
  if (prev?.user?.uid !== next?.user?.uid || prev?.user?.gid !== next?.user?.gid) {
    becomeFs(next?.user);
  }
  const out = next?.stdout ?? false;
  if ((prev?.stdout ?? false) !== out) {
    if (out) savedWriter = setErrWriter(toStdout);
    else setErrWriter(savedWriter);
  }
}

/**
 * What a hosted logger has from its `log/run` that a process would have had from its
 * setuidgid, envdir and `exec 2>&1`: everything it does runs inside {@linkcode around}, which
 * gives svscan's thread USER's file-system credentials (the uid and primary gid, groups =
 * [gid], as setuidgid sets them; raw system calls: only this thread changes, never the
 * runtime's other threads), sends the messages to svscan's fd 1 when `log/run` has `exec 2>&1`
 * (and fd 1 is not fd 2's file anyway), then puts svscan's own back. Nests: a context entered
 * inside another is left back into it. {@linkcode LoggerContext.proc} (given to the logger)
 * makes its processor start as the process's would.
 */
export class LoggerContext {
  /** the account (set at each start, as setuidgid looks it up) */
  user: Account | undefined;
  /** the logger's messages go to fd 1 */
  readonly stdout: boolean;
  /** how its processor starts (lib/multilog/processor.ts) */
  readonly proc: ProcessorAs;

  constructor(run: LogRun, env: readonly (string | Uint8Array)[]) {
    this.stdout = run.stderrToStdout && !sameOut();
    this.proc = {
      env,
      stderr: run.stderrToStdout ? 1 : undefined,
      setuidgid: run.user === undefined || run.setuidgidFile === undefined
        ? undefined
        : { path: decode(run.setuidgidFile), account: run.user },
      spawnAround: svscanOwn,
    };
  }

  /** Run `f` in this context (see the class). */
  readonly around = <T>(f: () => T): T => within(this, f);
}

/**
 * Run `f` as svscan itself, out of any logger's context (and back into it after): what a
 * logger calls back into svscan (its end, reported to the supervisor, which writes the status
 * and may start it again) is svscan's own work.
 */
export function svscanOwn<T>(f: () => T): T {
  return within(undefined, f);
}

/** Run `f` in context `ctx` (undefined: svscan's own), then back in the one before. */
function within<T>(ctx: LoggerContext | undefined, f: () => T): T {
  const prev = active;
  if (prev === ctx) return f();
  switchTo(ctx);
  try {
    return f();
  } finally {
    switchTo(prev);
  }
}

/** `DIR`'s variables applied to `env` as envdir does (read in the current context), or its message. */
export function readEnvdir(
  dirfd: number,
  dir: string,
  env: readonly (string | Uint8Array)[],
): Uint8Array[] | Uint8Array {
  const fail = (text: string | Uint8Array, e: number) => line("envdir", "fatal", sysText(text, e));
  const flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  const p = sysAt(NR.openat, dirfd, dir, flags, 0);
  if (p < 0) return fail(`unable to switch to directory ${dir}`, -p);
  try {
    // chdir needs search permission on DIR itself: looking "." up in it is checked the same way
    const x = sysAt(NR.openat, p, ".", flags, 0);
    if (x < 0) return fail(`unable to switch to directory ${dir}`, -x);
    sys(NR.close, x);
    const vars = envFiles(p);
    if (!Array.isArray(vars)) {
      const what = vars.name
        ? cat("unable to read ", dir, "/", vars.name)
        : `unable to read directory ${dir}`;
      return fail(what, vars.errno);
    }
    const e = new Environ(env.map((v) => typeof v === "string" ? encode(v) : v));
    for (const [name, value] of vars) e.set(name, value);
    return e.commit();
  } finally {
    sys(NR.close, p);
  }
}

/**
 * The hosted logger for this start of `o.path`, or undefined (spawn `./run` as usual).
 * `exited(wstatus)` is called once when it has ended (a process's wait status: exit code
 * << 8, or the signal that "killed" it). At its start, as the process would: setuidgid's
 * account looked up and taken, envdir's directory read (as the account), each failure with
 * that program's message and exit 111.
 */
export function hostLogger(
  o: HostLogOptions,
  exited: (wstatus: number) => void,
): HostedChild | undefined {
  const hosted = hostedRun(o);
  if (hosted === undefined) return undefined;
  const { run, script } = hosted;
  // the directory by descriptor (multilog's names are relative to it; svscan never chdirs)
  const dirfd = sysPath(NR.open, o.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dirfd < 0) return undefined; // spawning reports the problem as for any service
  // a descriptor of our own, non-blocking: the held one stays blocking for spawned loggers
  const fd = sysPath(NR.open, `/proc/self/fd/${o.pipe}`, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) {
    sys(NR.close, dirfd);
    return undefined;
  }
  const ctx = new LoggerContext(run, o.env);
  let killedBy = 0;
  const done = (code: number) => {
    sys(NR.close, fd);
    sys(NR.close, dirfd);
    svscanOwn(() => exited(killedBy && code === 0 ? killedBy : code << 8));
  };
  // lossless across a crash of svscan: log/supervise/hosted-input (root's, 0600; the logger closes it)
  const staging = openStaging(dirfd);
  if (staging < 0) {
    // no lossless reading without it: the process form (which reports any real problem)
    sys(NR.close, fd);
    sys(NR.close, dirfd);
    return undefined;
  }
  const ml = new HostedMultilog({
    reactor: o.reactor,
    fd,
    args: run.args,
    script,
    processor: ctx.proc,
    dirfd,
    staging,
    pool: o.pool,
    around: ctx.around,
    onExit: done,
  });
  /** The chain before multilog, as the process runs it; false: it failed (exit 111). */
  const chain = (): boolean => {
    const die = (msg: Uint8Array) => (writeErr(msg), done(111), false);
    if (run.user !== undefined) {
      const pw = getpwnam(run.user);
      if (pw === undefined) return die(line("setuidgid", "fatal", `unknown account ${run.user}`));
      ctx.user = pw;
      const e = becomeFs(pw); // as root this cannot fail; should it, as setuidgid would say
      if (e !== 0) return die(line("setuidgid", "fatal", sysText("unable to setgid", e)));
    }
    if (run.envdir !== undefined) {
      const env = readEnvdir(dirfd, run.envdir, o.env);
      if (env instanceof Uint8Array) return die(env);
      ctx.proc.env = env;
    }
    return true;
  };
  return {
    pid: ownPid,
    start: () => ctx.around(() => chain() && ml.start()),
    signal: (sig: number) => ctx.around(() => signal(sig)),
  };

  function signal(sig: number): void {
    switch (sig) {
      case SIGALRM:
        return ml.rotate();
      case SIGTERM:
        return ml.stop();
      case SIGSTOP:
        return ml.hold();
      case SIGCONT:
        return ml.release();
      case SIGCHLD:
      case SIGURG:
      case SIGWINCH:
        return;
      default:
        if (!killedBy) killedBy = sig;
        return ml.kill();
    }
  }
}

const ownPid = sys(NR.getpid);
