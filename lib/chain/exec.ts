/**
 * What daemontools' `pathexec_run` does, for a Deno process: the PATH search, "is this
 * candidate this very executable", the signal state a program must start with, and the execve
 * itself as a straight line of system calls.
 * @module
 */
import { cat, encode } from "../bytes.ts";
import { EACCES, EISDIR, ENOENT, EPERM } from "../errors.ts";
import { SIG_DFL, SIGPIPE, SIZEOF_SIGSET } from "../libc.ts";
import { launcherId } from "../launch.ts";
import { stat } from "../stat.ts";
import { addr, NR, sys } from "../sys.ts";
import { applyPlan, type LimitPlan, NO_LIMITS } from "./limits.ts";

const DEFAULT_PATH = encode("/bin:/usr/bin");
const DOT = encode(".");

/**
 * `pathexec_run`'s search: a name with `/` is tried as is; else every PATH element (default
 * `/bin:/usr/bin`, empty = `.`). `attempt` tries one candidate and returns 0 (done: stop) or
 * its errno. ENOENT goes on; EACCES/EPERM/EISDIR are remembered and go on; anything else
 * stops. Returns 0, or the errno to report: the last remembered one, else the last one.
 */
export function pathexecRun(
  file: Uint8Array,
  path: Uint8Array | undefined,
  attempt: (candidate: Uint8Array) => number,
): number {
  if (file.includes(47)) return attempt(file); // '/'
  const p = path ?? DEFAULT_PATH;
  let saved = 0;
  let err = ENOENT;
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i < p.length && p[i] !== 58) continue; // ':'
    const dir = i === start ? DOT : p.subarray(start, i);
    start = i + 1;
    err = attempt(cat(dir, "/", file));
    if (err === 0) return 0;
    if (err !== ENOENT) {
      saved = err;
      if (err !== EACCES && err !== EPERM && err !== EISDIR) break;
    }
  }
  return saved || err;
}

/** Device and inode of a file (symlinks followed), or null. */
function fileId(path: string | Uint8Array): string | null {
  const st = stat(path);
  return typeof st === "number" ? null : `${st.dev}:${st.ino}`;
}

let selfId: string | null | undefined;

/**
 * Identity (device:inode) of this executable: the compiled binary, or the launcher the program
 * links point to (as the launcher tells, else the main module). A candidate is "this executable" when it is the same file (a stat, no
 * realpath: the first Deno file operation of a process costs milliseconds). null: never chain
 * in-process.
 */
export function self(): string | null {
  if (selfId !== undefined) return selfId;
  selfId = launcherId(); // what the launcher (scripts/launcher.pl) says it is, if it ran
  if (selfId !== null) return selfId;
  try {
    if (Deno.build.standalone) {
      selfId = fileId("/proc/self/exe");
    } else {
      const u = new URL(Deno.mainModule);
      if (u.protocol === "file:") selfId = fileId(decodeURIComponent(u.pathname));
    }
  } catch {
    // no usable main module: never chain in-process
  }
  return selfId;
}

/** True when `candidate` is this executable (see {@linkcode self}). */
export function isSelf(candidate: Uint8Array): boolean {
  const me = self();
  return me !== null && fileId(candidate) === me;
}

/**
 * Signals to reset to default in a spawned child: SIGPIPE, which the runtime ignores (handlers
 * are reset by exec anyway; what our parent had us ignore stays ignored, as it would through
 * 0.76's fork and exec), and glibc's internal 32 and 33, which posix_spawn would leave ignored.
 */
export function sigdefault(): Uint8Array<ArrayBuffer> {
  const set = new Uint8Array(SIZEOF_SIGSET);
  for (const sig of [SIGPIPE, 32, 33]) set[(sig - 1) >> 3] |= 1 << ((sig - 1) & 7);
  return set;
}

/**
 * Signal dispositions as a fresh process would get them. exec resets caught signals to default
 * by itself and keeps ignored ones: the only disposition the runtime adds is SIGPIPE ignored
 * (Rust does it), so SIGPIPE goes back to default; everything our parent had us ignore stays
 * ignored, as through 0.76's exec. The runtime leaves the signal mask as it got it. Returns how
 * to put SIGPIPE back if every execve fails.
 */
export function resetSignals(): () => void {
  // struct kernel_sigaction: handler, flags, restorer, mask (8 bytes each)
  const act = new BigUint64Array([SIG_DFL, 0n, 0n, 0n]);
  const old = new BigUint64Array(4);
  const ok = sys(NR.rt_sigaction, SIGPIPE, addr(act), addr(old), 8) === 0;
  return () => {
    if (ok) sys(NR.rt_sigaction, SIGPIPE, addr(old), 0, 8);
  };
}

/**
 * setrlimit the plan's limits, execve (`nr`: another call, to warm this path up), and (execve
 * failed) put the limits back: a straight line of system calls on prepared buffers, so the
 * runtime allocates nothing while the limits may starve it. Returns the errno (the call's own).
 */
export function execBurst(
  plan: LimitPlan,
  path: bigint,
  argv: bigint,
  envp: bigint,
  nr: number = NR.execve,
): number {
  applyPlan(plan);
  const r = sys(nr, path, argv, envp);
  applyPlan(plan, true);
  return r < 0 ? -r : 0;
}

/** Run the exec path once without effect, so nothing is compiled or bound during the real one. */
export function warmUp(): void {
  execBurst(NO_LIMITS, 0n, 0n, 0n, NR.getpid);
}
