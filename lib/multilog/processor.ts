/**
 * Running a log directory's processor (`!PROC`) as 0.76 does after a rotation: `/bin/sh -c
 * PROC` in the log directory (the caller's cwd) with fd 0 = `previous`, fd 1 = `processed`
 * (truncated), fd 4 = `state`, fd 5 = `newstate` (truncated), every signal at its default
 * and none blocked; multilog waits for it. lib/spawn.ts maps only fds 0-2 and closes the
 * rest, so this module has its own small posix_spawn.
 * @module
 */
import {
  cstr,
  cstrArray,
  errno,
  libc,
  POSIX_SPAWN_SETSIGDEF,
  POSIX_SPAWN_SETSIGMASK,
  SIZEOF_FILE_ACTIONS,
  SIZEOF_SIGSET,
  SIZEOF_SPAWNATTR,
} from "../libc.ts";
import { EINTR, errorStr } from "../errors.ts";
import { close, fcntl, lastErr, openRead, openTrunc } from "./sys.ts";

const F_DUPFD_CLOEXEC = 1030;
const ALL = new Uint8Array(SIZEOF_SIGSET).fill(0xff);
const NONE = new Uint8Array(SIZEOF_SIGSET);

/** How a processor run ended. */
export type Outcome =
  | { kind: "exited"; code: number }
  | { kind: "crashed"; signal: number }
  | { kind: "waitfailed"; errno: number }
  /** it could not be started: what 0.76's forked child would have printed, exit 111 */
  | { kind: "unstartable"; text: string };

/** Open `path` with `open` and move it above the fds the child gets (0, 1, 4, 5). */
function highFd(fd: number): number {
  if (fd < 0) return fd;
  const h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  return h;
}

/** Run `sh -c proc` in the current directory and wait for it. */
export function runProcessor(proc: string): Outcome {
  const fds: number[] = [];
  const fail = (): Outcome => {
    const text = `unable to run ${proc}: ${errorStr(lastErr())}`;
    for (const fd of fds) close(fd);
    return { kind: "unstartable", text };
  };
  // same order as 0.76's startprocessor()
  for (const open of [() => openRead("previous"), () => openTrunc("processed")]) {
    const fd = highFd(open());
    if (fd < 0) return fail();
    fds.push(fd);
  }
  for (const open of [() => openRead("state"), () => openTrunc("newstate")]) {
    const fd = highFd(open());
    if (fd < 0) return fail();
    fds.push(fd);
  }
  const c = libc();
  const fa = new Uint8Array(SIZEOF_FILE_ACTIONS);
  const attr = new Uint8Array(SIZEOF_SPAWNATTR);
  c.posix_spawn_file_actions_init(fa);
  c.posix_spawnattr_init(attr);
  let pid = 0;
  let r: number;
  try {
    [0, 1, 4, 5].forEach((target, i) => c.posix_spawn_file_actions_adddup2(fa, fds[i], target));
    c.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    c.posix_spawnattr_setsigdefault(attr, ALL);
    c.posix_spawnattr_setsigmask(attr, NONE);
    const pidOut = new Int32Array(1);
    const args = cstrArray(["sh", "-c", proc]);
    const env = cstrArray(Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`));
    r = c.posix_spawn(pidOut, cstr("/bin/sh"), fa, attr, args.ptrs, env.ptrs);
    void args.keep;
    void env.keep;
    pid = pidOut[0];
  } finally {
    c.posix_spawn_file_actions_destroy(fa);
    c.posix_spawnattr_destroy(attr);
    for (const fd of fds) close(fd);
  }
  if (r !== 0) return { kind: "unstartable", text: `unable to run ${proc}: ${errorStr(r)}` };
  const status = new Int32Array(1);
  for (;;) {
    const w = c.waitpid(pid, status, 0);
    if (w === pid) break;
    if (w === -1 && errno() === EINTR) continue;
    return { kind: "waitfailed", errno: w === -1 ? errno() : 0 };
  }
  const st = status[0];
  if ((st & 0x7f) !== 0) return { kind: "crashed", signal: st & 0x7f };
  return { kind: "exited", code: (st >> 8) & 0xff };
}
