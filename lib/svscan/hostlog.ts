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
 * Never hosted (they run as processes, as before): a `log/run` the grammar refuses or whose
 * programs are not ours, `setuidgid` or `envdir` in it (see {@linkcode notHostedYet}), a log
 * service without svscan's pipe, and every logger while `.svscan-no-hosted-loggers` exists in
 * the scanned directory (the opt-out).
 * @module
 */
import { encode, startsWith } from "../bytes.ts";
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
import { HostedMultilog, type HostedPool, openStaging } from "../multilog/hosted.ts";
import type { Reactor } from "../reactor.ts";
import type { HostedChild } from "../service.ts";
import { readSmall } from "../open.ts";
import { stat } from "../stat.ts";
import { NR, sys, sysPath } from "../sys.ts";
import { hostable, type LogRun, systemResolver } from "./logrun.ts";

/** The opt-out: while this file exists in the scanned directory, every `log/run` is spawned. */
export const NO_HOSTED_FILE = ".svscan-no-hosted-loggers";

const PATH_EQ = encode("PATH=");

/** A `log/run` longer than this is not read (it is not a one-line script): spawned. */
const MAX_RUN = 16384;

/** SIGURG (not in lib/libc.ts): ignored by default, as CHLD and WINCH. */
const SIGURG = 23;

/**
 * Why a `log/run` the grammar accepts is still run as a process, or undefined: hosted. The one
 * place to lift when hosted loggers can switch user and read an envdir.
 */
export function notHostedYet(run: LogRun): string | undefined {
  if (run.user !== undefined) return "setuidgid is not hosted yet";
  if (run.envdir !== undefined) return "envdir is not hosted yet";
  return undefined;
}

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

/** Decide whether `o.path`'s `run` is hosted now (undefined: spawn it). */
export function hostedRun(o: HostLogOptions): LogRun | undefined {
  if (o.pipe < 0) return undefined;
  if (typeof stat(NO_HOSTED_FILE) !== "number") return undefined;
  const text = readRun(`${o.path}/run`);
  if (text === undefined) return undefined;
  const p = hostable(text, pathOf(o.env), systemResolver);
  if (!p.ok || notHostedYet(p.run) !== undefined) return undefined;
  return p.run;
}

/**
 * The hosted logger for this start of `o.path`, or undefined (spawn `./run` as usual).
 * `exited(wstatus)` is called once when it has ended (a process's wait status: exit code
 * << 8, or the signal that "killed" it).
 */
export function hostLogger(
  o: HostLogOptions,
  exited: (wstatus: number) => void,
): HostedChild | undefined {
  const run = hostedRun(o);
  if (run === undefined) return undefined;
  // the directory by descriptor (multilog's names are relative to it; svscan never chdirs)
  const dirfd = sysPath(NR.open, o.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dirfd < 0) return undefined; // spawning reports the problem as for any service
  // a descriptor of our own, non-blocking: the held one stays blocking for spawned loggers
  const fd = sysPath(NR.open, `/proc/self/fd/${o.pipe}`, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) {
    sys(NR.close, dirfd);
    return undefined;
  }
  let killedBy = 0;
  // lossless across a crash of svscan: log/supervise/hosted-input (owned by the logger)
  const staging = openStaging(dirfd);
  const ml = new HostedMultilog({
    reactor: o.reactor,
    fd,
    args: run.args,
    dirfd,
    staging: staging >= 0 ? staging : undefined,
    pool: o.pool,
    onExit: (code) => {
      sys(NR.close, fd);
      sys(NR.close, dirfd);
      exited(killedBy && code === 0 ? killedBy : code << 8);
    },
  });
  return {
    pid: ownPid,
    start: () => ml.start(),
    signal(sig: number) {
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
    },
  };
}

const ownPid = sys(NR.getpid);
