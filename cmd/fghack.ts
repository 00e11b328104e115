/**
 * fghack CHILD...: an anti-backgrounding tool. Runs CHILD with 31 extra
 * descriptors, all the write end of one pipe (the numbers 0.76's
 * pipe + 30 dup()s would give), reads that pipe until every holder has
 * closed it (CHILD and whatever it left behind), then waits for CHILD and
 * exits with its exit code (`child crashed` if a signal killed it).
 *
 * A Deno process cannot fork: the child is started with FFI posix_spawn
 * (PATH searched like 0.76's pathexec_run), SIGPIPE back to default.
 * fghack stays resident by design.
 * @module
 */
import { cstr, cstrArray, encode } from "../lib/bytes.ts";
import type { Chain } from "../lib/chain/chain.ts";
import { F_DUPFD_CLOEXEC, lowestFree } from "../lib/chain/descriptors.ts";
import { pathexecRun, sigdefault } from "../lib/chain/exec.ts";
import { applyPlan } from "../lib/chain/limits.ts";
import { type Apply, runChain } from "../lib/chain/run.ts";
import { EINTR } from "../lib/errors.ts";
import {
  bindNow,
  libc,
  O_CLOEXEC,
  POSIX_SPAWN_SETSIGDEF,
  RLIMIT_AS,
  RLIMIT_DATA,
  RLIMIT_NPROC,
  SIZEOF_FILE_ACTIONS,
  SIZEOF_SPAWNATTR,
} from "../lib/libc.ts";
import { fatal, fatalSys, usage } from "../lib/msg.ts";
import { addr, NR, sys } from "../lib/sys.ts";

const PROG = "fghack";

/** The child's write descriptors under 0.76: pipe() takes the two lowest free, close(read), 30 dup()s. */
export function writeFds(used: Set<number>): number[] {
  const taken = new Set(used);
  const r = lowestFree(taken);
  taken.add(r);
  const w = lowestFree(taken);
  taken.add(w);
  taken.delete(r);
  const fds = [w];
  for (let i = 0; i < 30; i++) {
    const fd = lowestFree(taken);
    taken.add(fd);
    fds.push(fd);
  }
  return fds;
}

/** posix_spawn FILE via the PATH search; returns the pid or the errno. */
function spawn(
  ctx: Chain,
  file: string,
  argv: string[],
  fa: Uint8Array,
  attr: Uint8Array,
): { pid: number } | { errno: number } {
  const path = ctx.env.get("PATH");
  const envp = ctx.env.commit();
  const args = cstrArray(argv);
  const env = cstrArray(envp);
  const pid = new Int32Array(1);
  // the child gets the deferred limits: the harmless ones are set here around the spawn (the
  // stack limit must be there at exec); address space and data would starve posix_spawn
  // itself, and our threads count against processes, so those go to the child with prlimit
  // right after
  const memory = (r: number) => r === RLIMIT_AS || r === RLIMIT_DATA || r === RLIMIT_NPROC;
  const here = ctx.limits.plan((r) => !memory(r));
  const later = ctx.limits.plan(memory);
  applyPlan(here);
  let err: number;
  try {
    err = pathexecRun(
      encode(file),
      path,
      (cand) => libc().posix_spawn(pid, cstr(cand), fa, attr, args.ptrs, env.ptrs),
    );
  } finally {
    applyPlan(here, true);
  }
  if (err !== 0) return { errno: err };
  for (let i = 0; i < later.res.length; i++) {
    sys(NR.prlimit64, pid[0], later.res[i], later.set[i], 0);
  }
  return { pid: pid[0] };
}

/** Run the child and wait for it; returns fghack's exit code. */
export const apply: Apply = (args, ctx) => {
  if (args.length < 1) usage(PROG, "fghack child");
  bindNow( // one dlopen for all of them
    "posix_spawn",
    "posix_spawn_file_actions_init",
    "posix_spawn_file_actions_adddup2",
    "posix_spawn_file_actions_destroy",
    "posix_spawnattr_init",
    "posix_spawnattr_setsigdefault",
    "posix_spawnattr_setflags",
    "posix_spawnattr_destroy",
  );
  const L = libc();
  const pi = new Int32Array(2);
  const piped = sys(NR.pipe2, addr(pi), O_CLOEXEC);
  if (piped < 0) fatalSys(PROG, "unable to create pipe", -piped);
  const targets = writeFds(ctx.fds.childFds());
  // sources above every target number, so no dup2 in the child clobbers a later source
  let top = Math.max(...targets) + 1;
  for (const h of ctx.fds.all()) top = Math.max(top, h.target + 1);
  const tmps: number[] = [];
  const high = (fd: number) => {
    const t = sys(NR.fcntl, fd, F_DUPFD_CLOEXEC, top);
    if (t < 0) fatalSys(PROG, "unable to create pipe", -t);
    tmps.push(t);
    return t;
  };
  const fa = new Uint8Array(SIZEOF_FILE_ACTIONS);
  const attr = new Uint8Array(SIZEOF_SPAWNATTR);
  L.posix_spawn_file_actions_init(fa);
  for (const h of ctx.fds.all()) L.posix_spawn_file_actions_adddup2(fa, high(h.fd), h.target);
  const w = high(pi[1]);
  for (const fd of targets) L.posix_spawn_file_actions_adddup2(fa, w, fd);
  L.posix_spawnattr_init(attr);
  L.posix_spawnattr_setsigdefault(attr, sigdefault());
  L.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF);
  const r = spawn(ctx, args[0], args, fa, attr);
  L.posix_spawn_file_actions_destroy(fa);
  L.posix_spawnattr_destroy(attr);
  sys(NR.close, pi[1]);
  for (const t of tmps) sys(NR.close, t);
  if ("errno" in r) {
    // 0.76's child reports this and exits 111, which the parent passes on
    sys(NR.close, pi[0]);
    fatalSys(PROG, `unable to run ${args[0]}`, r.errno);
  }
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = sys(NR.read, pi[0], addr(buf), buf.length);
    if (n === -EINTR || n > 0) continue;
    break;
  }
  sys(NR.close, pi[0]);
  const wstat = new Int32Array(1);
  for (;;) {
    const got = sys(NR.wait4, r.pid, addr(wstat), 0, 0);
    if (got >= 0) break;
    if (got !== -EINTR) fatalSys(PROG, "wait failed", -got);
  }
  if (wstat[0] & 127) fatal(PROG, "child crashed");
  return (wstat[0] >> 8) & 255;
};

/** Entry point. */
export function main(args: string[]): Promise<number | void> {
  return runChain(PROG, apply, args);
}
