/**
 * Start a program through glibc's `posix_spawn` (FFI): by default no PATH search (argv0 and the
 * path are taken literally, as supervise's `execve("./run")`), an optional chdir in the child,
 * chosen descriptors dup2'ed onto 0/1/2 (and any others onto any number), every other
 * descriptor from 3 up closed unless asked otherwise, all signal dispositions reset to default
 * (SIGPIPE included: Deno ignores it) and an empty signal mask. No setsid: the child stays in
 * the caller's process group, as under 0.76. Path, arguments and environment go over as bytes
 * (strings encoded losslessly, lib/bytes.ts); the environment is the caller's, exactly
 * (lib/launch.ts). Descriptors among 0-2 the caller had closed are closed in the child too.
 *
 * Unlike fork+exec, posix_spawn reports a failing exec (or chdir) as an error instead of
 * a child that exits: callers decide how to show that.
 * @module
 */
import { cstr, type CstrArray, cstrArray } from "./bytes.ts";
import { closedFds, environ } from "./launch.ts";
import {
  libc,
  POSIX_SPAWN_SETSIGDEF,
  POSIX_SPAWN_SETSIGMASK,
  SIZEOF_FILE_ACTIONS,
  SIZEOF_SIGSET,
  SIZEOF_SPAWNATTR,
} from "./libc.ts";

/** How to start the child. */
export interface SpawnOptions {
  /** Directory the child starts in (chdir before exec; its failure is the spawn's error). */
  cwd?: string;
  /** Descriptors to put on the child's fds 0, 1, 2 (undefined: inherit ours). */
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** More descriptors to put in place: `[source, target]`, in this order, after 0/1/2. */
  dup?: [number, number][];
  /**
   * Close the child's descriptors from this number up (default 3); null closes nothing, so
   * what this process holds without close-on-exec passes on (as through 0.76's fork+exec).
   */
  closeFrom?: number | null;
  /** Search PATH (this process's) for `path` as execvp does (posix_spawnp). */
  search?: boolean;
  /**
   * Environment as `NAME=value` entries, bytes (or strings, encoded losslessly), passed as
   * they are (default: {@linkcode currentEnv}).
   */
  env?: readonly (string | Uint8Array)[];
}

/** Result: a pid, or the errno posix_spawn returned (fork, chdir or exec failure). */
export type SpawnResult = { pid: number; errno: 0 } | { pid: 0; errno: number };

const ALL = new Uint8Array(SIZEOF_SIGSET).fill(0xff);
const NONE = new Uint8Array(SIZEOF_SIGSET);

/**
 * The environment children get by default: the caller's, every entry as bytes in order
 * (lib/launch.ts `environ()`; a chain that runs a program of ours in-process sets its own).
 */
export function currentEnv(): Uint8Array[] {
  return environ();
}

/** A caller's env array made into a vector once (svscan passes the same array for every service). */
const envCache = new WeakMap<readonly (string | Uint8Array)[], CstrArray>();
function envVector(env: readonly (string | Uint8Array)[]): CstrArray {
  let e = envCache.get(env);
  if (!e) envCache.set(env, e = cstrArray(env));
  return e;
}

/** Spawn `path` with `argv` (argv[0] included). Never throws for system errors. */
export function spawn(path: string, argv: readonly string[], opts: SpawnOptions = {}): SpawnResult {
  const c = libc();
  const fa = new Uint8Array(SIZEOF_FILE_ACTIONS);
  const attr = new Uint8Array(SIZEOF_SPAWNATTR);
  c.posix_spawn_file_actions_init(fa);
  c.posix_spawnattr_init(attr);
  const cwd = opts.cwd === undefined ? undefined : cstr(opts.cwd);
  try {
    const fds = [opts.stdin, opts.stdout, opts.stderr];
    fds.forEach((fd, target) => {
      if (fd !== undefined && fd !== target) c.posix_spawn_file_actions_adddup2(fa, fd, target);
      // closed for us (the launcher's stand-in): closed for the child, as through fork+exec
      else if (fd === undefined && closedFds().includes(target)) {
        c.posix_spawn_file_actions_addclose(fa, target);
      }
    });
    for (const [fd, target] of opts.dup ?? []) c.posix_spawn_file_actions_adddup2(fa, fd, target);
    const closeFrom = opts.closeFrom === undefined ? 3 : opts.closeFrom;
    if (closeFrom !== null) {
      // a dup target at or above closeFrom survives: close around it (an fd that is not open
      // is no error for glibc's close action), then everything above the highest one
      const keep = new Set((opts.dup ?? []).map(([, t]) => t).filter((t) => t >= closeFrom));
      const top = keep.size ? Math.max(...keep) : closeFrom - 1;
      for (let fd = closeFrom; fd <= top; fd++) {
        if (!keep.has(fd)) c.posix_spawn_file_actions_addclose(fa, fd);
      }
      c.posix_spawn_file_actions_addclosefrom_np(fa, top + 1);
    }
    if (cwd) c.posix_spawn_file_actions_addchdir_np(fa, cwd);
    c.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    c.posix_spawnattr_setsigdefault(attr, ALL);
    c.posix_spawnattr_setsigmask(attr, NONE);
    const pidOut = new Int32Array(1);
    const file = cstr(path);
    const args = cstrArray(argv);
    const env = envVector(opts.env ?? currentEnv());
    const r = (opts.search ? c.posix_spawnp : c.posix_spawn)(
      pidOut,
      file,
      fa,
      attr,
      args.ptrs,
      env.ptrs,
    );
    // keep the strings alive until here
    void args.keep;
    void env.keep;
    return r === 0 ? { pid: pidOut[0], errno: 0 } : { pid: 0, errno: r };
  } finally {
    c.posix_spawn_file_actions_destroy(fa);
    c.posix_spawnattr_destroy(attr);
  }
}
