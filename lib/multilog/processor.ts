/**
 * Running a log directory's processor (`!PROC`) as 0.76 does after a rotation: `/bin/sh -c
 * PROC` in the log directory with fd 0 = `previous`, fd 1 = `processed`
 * (truncated), fd 4 = `state`, fd 5 = `newstate` (truncated), every signal at its default
 * and none blocked (lib/spawn.ts). Starting and waiting are apart: the standalone multilog
 * waits with a blocking waitpid, a hosted logger through the reactor (a pidfd).
 *
 * A hosted logger runs in its host's process, so what the process form's processor would have
 * inherited from multilog (its account, environment and stderr) is given here instead, by the
 * host ({@linkcode ProcessorAs}, lib/svscan/hostlog.ts).
 * @module
 */
import { EINTR, errorStr } from "../errors.ts";
import { spawn } from "../spawn.ts";
import { close, fcntl, lastErr, openAt, waitpid } from "./sys.ts";

const F_DUPFD_CLOEXEC = 1030;

/** How a processor run ended. */
export type Outcome =
  | { kind: "exited"; code: number }
  | { kind: "crashed"; signal: number }
  | { kind: "waitfailed"; errno: number }
  /** it could not be started: what 0.76's forked child would have printed, exit 111 */
  | { kind: "unstartable"; text: string };

/** How the processor of the logger now at work starts (a hosted logger's; see the module). */
export interface ProcessorAs {
  /** its environment (default: this process's) */
  env?: readonly (string | Uint8Array)[];
  /** the descriptor it gets as fd 2 (default: ours) */
  stderr?: number;
  /**
   * Run as this account, through our own setuidgid (its path) as `setuidgid ACCOUNT /bin/sh -c
   * PROC`: uid, gid and groups as the process form's multilog had them after setuidgid.
   */
  setuidgid?: { path: string; account: string };
  /**
   * Runs the spawn through setuidgid (svscan: with its own credentials again, so that it may
   * run our setuidgid wherever that lies; the processor's files are opened before, as the
   * logger). Default: as is.
   */
  spawnAround?: <T>(f: () => T) => T;
}

/** Move a descriptor just opened (or -1, passed on) above the fds the child gets (0, 1, 4, 5). */
function highFd(fd: number): number {
  if (fd < 0) return fd;
  const h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  return h;
}

/** A processor started, or what 0.76's forked child would have printed (exit 111). */
export type Start = { kind: "started"; pid: number } | { kind: "unstartable"; text: string };

/**
 * Open the processor's files in log directory `dirfd` (0.76's order) and start `sh -c proc`
 * with `cwd` as its directory (the log directory's path as the caller can name it).
 */
export function startProcessor(
  proc: string,
  dirfd: number,
  cwd: string,
  as?: ProcessorAs,
): Start {
  const fds: number[] = [];
  const fail = (): Start => {
    const text = `unable to run ${proc}: ${errorStr(lastErr())}`;
    for (const fd of fds) close(fd);
    return { kind: "unstartable", text };
  };
  // same order as 0.76's startprocessor()
  for (const [name, how] of PROC_FILES) {
    const fd = highFd(openAt(dirfd, name, how));
    if (fd < 0) return fail();
    fds.push(fd);
  }
  // multilog's own descriptors are close-on-exec; anything inherited without it passes on
  const su = as?.setuidgid;
  const go = () =>
    spawn(
      su ? su.path : "/bin/sh",
      su ? ["setuidgid", su.account, "/bin/sh", "-c", proc] : ["sh", "-c", proc],
      {
        dup: [[fds[0], 0], [fds[1], 1], [fds[2], 4], [fds[3], 5]],
        stderr: as?.stderr,
        closeFrom: null,
        cwd,
        env: as?.env,
      },
    );
  const r = su && as?.spawnAround ? as.spawnAround(go) : go();
  for (const fd of fds) close(fd);
  if (r.errno !== 0) {
    return { kind: "unstartable", text: `unable to run ${proc}: ${errorStr(r.errno)}` };
  }
  return { kind: "started", pid: r.pid };
}

const PROC_FILES: [string, "read" | "trunc"][] = [
  ["previous", "read"],
  ["processed", "trunc"],
  ["state", "read"],
  ["newstate", "trunc"],
];

/** A wait status as an Outcome. */
export function outcome(st: number): Outcome {
  if ((st & 0x7f) !== 0) return { kind: "crashed", signal: st & 0x7f };
  return { kind: "exited", code: (st >> 8) & 0xff };
}

/** Wait for a started processor (blocking waitpid, retried on EINTR). */
export function waitProcessor(pid: number): Outcome {
  const status = new Int32Array(1);
  for (;;) {
    const w = waitpid(pid, status);
    if (w === pid) break;
    if (w === -1 && lastErr() === EINTR) continue;
    return { kind: "waitfailed", errno: w === -1 ? lastErr() : 0 };
  }
  return outcome(status[0]);
}
