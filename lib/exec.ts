/**
 * What daemontools' `pathexec` does, for a Deno process, plus in-process
 * chaining of our own chain loaders.
 *
 * - The environment is kept as raw `NAME=value` byte strings (read from
 *   /proc/self/environ) and changed with djb's `pathexec_env` algorithm, so
 *   the child gets the same bytes in the same order as under 0.76.
 * - The PATH search is `pathexec_run`'s: a name with `/` is tried as is;
 *   else every PATH element (default `/bin:/usr/bin`, empty = `.`); ENOENT
 *   goes on, EACCES/EPERM/EISDIR are remembered and go on, anything else
 *   stops; the error reported is the last remembered one, else ENOENT.
 * - A candidate that is this very executable (launcher or compiled binary)
 *   is not exec'd: the program named by its basename runs in this process
 *   (one Deno start-up for a whole `envdir ... setuidgid ... softlimit ...`
 *   chain). The first foreign program is exec'd with FFI `execve`, after the
 *   signal dispositions and mask are put back as the process got them.
 * @module
 */
import {
  bindNow,
  cstr,
  errno,
  F_GETFD,
  F_SETFD,
  FD_CLOEXEC,
  libc,
  O_CLOEXEC,
  O_DIRECTORY,
  O_RDONLY,
  RLIMIT_AS,
  RLIMIT_CPU,
  RLIMIT_DATA,
  RLIMIT_NOFILE,
  RLIMIT_NPROC,
  RLIMIT_STACK,
  SIG_DFL,
  SIGPIPE,
  SIZEOF_SIGSET,
} from "./libc.ts";
import { EACCES, EISDIR, ENOENT, EPERM, errorStr } from "./errors.ts";
import { writeErr } from "./msg.ts";
import { chainable, LINKS, loadNamed, loadProgram, PROGRAMS } from "../main.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** UTF-8 bytes of a string (arguments, fixed texts). */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** Concatenate strings and byte strings into one byte string. */
export function cat(...parts: (string | Uint8Array)[]): Uint8Array {
  const bs = parts.map((p) => typeof p === "string" ? enc.encode(p) : p);
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of bs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** Print `PROG: fatal: TEXT` (TEXT may hold raw bytes, e.g. file names) and exit. */
export function die(prog: string, text: string | Uint8Array, code = 111): never {
  writeErr(cat(`${prog}: fatal: `, text, "\n"));
  Deno.exit(code);
}

/** Print `PROG: fatal: TEXT: ERR` for an errno value and exit 111. */
export function dieSys(prog: string, text: string | Uint8Array, err: number): never {
  die(prog, cat(text, ": ", errorStr(err)));
}

/** x86_64 system call numbers: one FFI symbol (`syscall`) serves them all. */
export const NR = {
  read: 0,
  open: 2,
  close: 3,
  rt_sigaction: 13,
  rt_sigprocmask: 14,
  access: 21,
  dup2: 33,
  execve: 59,
  fcntl: 72,
  flock: 73,
  chdir: 80,
  fchdir: 81,
  getrlimit: 97,
  setsid: 112,
  setrlimit: 160,
  getdents64: 217,
  getpid: 39,
  stat: 4,
  prlimit64: 302,
} as const;

/** Address of a buffer for a raw system call (keep the buffer referenced across the call). */
export function addr(b: BufferSource | null): bigint {
  if (b === null) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

type Arg = number | bigint;
/** `syscall6i` as called here: Deno takes a number or a BigInt for an i64 (typed BigInt only). */
type Syscall6 = (nr: Arg, a: Arg, b: Arg, c: Arg, d: Arg, e: Arg, f: Arg) => number;

/** The bound `syscall` symbol (i32 result). */
function syscall6(): Syscall6 {
  return libc().syscall6i as unknown as Syscall6;
}

/**
 * A raw system call through glibc's `syscall()`: the result, or -1 with
 * errno set. Binding one symbol instead of one per call saves milliseconds
 * of start-up per link (each bound symbol costs ~0.1-0.4 ms). The result is
 * read as an int (every call used here fits): no BigInt allocated.
 */
export function sys(
  nr: number,
  a: number | bigint = 0,
  b: number | bigint = 0,
  c: number | bigint = 0,
  d: number | bigint = 0,
  e: number | bigint = 0,
  f: number | bigint = 0,
): number {
  return syscall6()(nr, a, b, c, d, e, f);
}

/** `sys` with a NUL-terminated path as first argument. */
export function sysPath(
  nr: number,
  path: string | Uint8Array,
  ...args: (number | bigint)[]
): number {
  const p = cstr(path);
  return sys(nr, addr(p), args[0], args[1], args[2], args[3], args[4]);
}

/** Resources whose soft limit would starve the Deno runtime itself: applied right before exec. */
const DEFERRED = new Set([
  RLIMIT_AS,
  RLIMIT_DATA,
  RLIMIT_STACK,
  RLIMIT_CPU,
  RLIMIT_NOFILE,
  // processes: the runtime's threads count as processes of the account after setuidgid, so an
  // early limit would make the final execve fail with EAGAIN where 0.76's one process passes
  RLIMIT_NPROC,
]);

/** Our chain loaders: their effect is applied in this process when they are next in a chain. */
export { LINKS };

/** Our other programs: when a chain ends in one of them it runs in this process too. */
export const TERMINALS: readonly string[] = PROGRAMS.filter((p) =>
  chainable(p) && !(LINKS as readonly string[]).includes(p)
);

/** What a chain loader does to the process; returns the child's argv or an exit code. */
export type Apply = (args: string[], ctx: Chain, argv0: string) => string[] | number;

interface LinkModule {
  apply: Apply;
}
interface MainModule {
  main: (args: string[]) => number | void | Promise<number | void>;
}

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/**
 * A whole /proc file through raw system calls (the first Deno file
 * operation of a process costs milliseconds; FFI is loaded anyway).
 */
function readProc(path: string): Uint8Array {
  const fd = sysPath(NR.open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd === -1) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(16384);
    const n = sys(NR.read, fd, addr(buf), buf.length);
    if (n <= 0) break;
    chunks.push(buf.subarray(0, n));
  }
  sys(NR.close, fd);
  return cat(...chunks);
}

/** The environ of this process exactly as the kernel handed it over. */
function readEnviron(): Uint8Array[] {
  const raw = readProc("/proc/self/environ");
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      out.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) out.push(raw.subarray(start));
  return out;
}

/** fcntl command: duplicate to the lowest free fd >= arg, close-on-exec. */
export const F_DUPFD_CLOEXEC = 1030;

/** Descriptors an exec'd program would get: open here and not close-on-exec. */
export function inheritedFds(): Set<number> {
  const out = new Set<number>();
  const dir = sysPath(NR.open, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir === -1) return out;
  const buf = new Uint8Array(16384);
  const view = new DataView(buf.buffer);
  for (;;) {
    const n = sys(NR.getdents64, dir, addr(buf), buf.length);
    if (n <= 0) break;
    // struct linux_dirent64: d_reclen@16, d_name@19
    for (let off = 0; off < n; off += view.getUint16(off + 16, true)) {
      const name = dec.decode(buf.subarray(off + 19, buf.indexOf(0, off + 19)));
      if (!/^\d+$/.test(name)) continue;
      const fd = Number(name);
      if (fd === dir) continue;
      const flags = sys(NR.fcntl, fd, F_GETFD);
      if (flags !== -1 && (flags & FD_CLOEXEC) === 0) out.add(fd);
    }
  }
  sys(NR.close, dir);
  return out;
}

/** Lowest descriptor number not in `used`. */
export function lowestFree(used: Set<number>): number {
  let fd = 0;
  while (used.has(fd)) fd++;
  return fd;
}

/** Device and inode of a file (symlinks followed), or null. */
function fileId(path: string | Uint8Array): string | null {
  const st = new BigUint64Array(18); // struct stat (144 bytes): st_dev@0, st_ino@8
  if (sysPath(NR.stat, path, addr(st)) === -1) return null;
  return `${st[0]}:${st[1]}`;
}

let selfId: string | null | undefined;

/**
 * Identity (device:inode) of this executable: the compiled binary, or the
 * launcher the program links point to. A candidate is "this executable"
 * when it is the same file (a stat, no realpath: the first Deno file
 * operation of a process costs milliseconds).
 */
export function self(): string | null {
  if (selfId !== undefined) return selfId;
  selfId = null;
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

/** `char**` argv and envp for execve; `keep` owns the strings. */
interface ExecVectors {
  argv: BigUint64Array<ArrayBuffer>;
  envp: BigUint64Array<ArrayBuffer>;
  keep: Uint8Array[];
}

/** Build execve's vectors (keep the result referenced until execve returns). */
export function vectors(argv: string[], envp: Uint8Array[]): ExecVectors {
  const keep: Uint8Array[] = [];
  const arr = (items: Uint8Array[]) => {
    const a = new BigUint64Array(items.length + 1);
    items.forEach((b, i) => {
      const c = cstr(b);
      keep.push(c);
      a[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(c)));
    });
    return a;
  };
  return { argv: arr(argv.map((a) => bytes(a))), envp: arr(envp), keep };
}

/** Deferred soft limits prepared for setrlimit: resource, new and old buffers' addresses. */
export interface LimitPlan {
  res: number[];
  set: bigint[];
  old: bigint[];
  keep: BigUint64Array[];
}

/**
 * The state of one chain: the environment the next program gets, soft
 * limits still to apply, and how to exec. One per process.
 */
export class Chain {
  /** The current environ (what `environ` is for the link now running). */
  env: Uint8Array[];
  /** `pathexec_env` changes made by the link now running (`NAME=value` or `NAME`). */
  private plus: Uint8Array[] = [];
  /** Soft limits set by softlimit but not applied yet (see DEFERRED). */
  private deferred = new Map<number, bigint>();
  private handoff: { fd: number; target: number }[] = [];
  private errnoView: Deno.UnsafePointerView | undefined;

  /**
   * Which threads a credential change must reach: all of them when the chain names a program of
   * ours that would keep this process running (multilog, svscan, ..., and fghack, which stays to
   * wait for its child), else only the calling one, which is the one that will execve (see
   * lib/account.ts).
   */
  readonly reach: "all" | "caller";

  /** `words`: the chain's command line (to bind the libc symbols it will use at once). */
  constructor(words: string[] = []) {
    const resident = (w: string) => TERMINALS.includes(w) || w === "fghack";
    this.reach = words.some((w) => resident(basename(w))) ? "all" : "caller";
    // one dlopen for what the chain will need (each dlopen costs ~1 ms, each symbol ~0.1 ms);
    // binding __errno_location late could clobber errno
    if (!words.some((w) => w.endsWith("uidgid"))) bindNow("__errno_location", "syscall6i");
    else if (this.reach === "caller") bindNow("__errno_location", "syscall6i", "getpwnam");
    else bindNow("__errno_location", "syscall6i", "getpwnam", "setgroups", "setgid", "setuid");
    this.env = readEnviron();
  }

  /**
   * Hand `fd` (opened close-on-exec: the runtime keeps running) to the
   * exec'd program at the number 0.76 would have given it: the lowest one
   * not open for the program (Deno's own descriptors do not count).
   */
  handOn(fd: number): void {
    this.handoff.push({ fd, target: lowestFree(this.childFds()) });
  }

  /** Descriptors handed on so far (source here, number in the program). */
  handoffs(): readonly { fd: number; target: number }[] {
    return this.handoff;
  }

  /** The descriptors the next program will have open. */
  childFds(): Set<number> {
    const used = inheritedFds();
    for (const h of this.handoff) used.add(h.target);
    return used;
  }

  /** `env_get`: the value of the first `NAME=` entry of the current environ. */
  getenv(name: string): Uint8Array | undefined {
    const key = bytes(`${name}=`);
    for (const e of this.env) if (startsWith(e, key)) return e.subarray(key.length);
    return undefined;
  }

  /** `pathexec_env`: set NAME to value, or remove it (value null), for the next program. */
  setenv(name: string | Uint8Array, value: string | Uint8Array | null): void {
    this.plus.push(value === null ? cat(name) : cat(name, "=", value));
  }

  /** `pathexec`: fold the pending changes into the environ (same order as 0.76). */
  commit(): Uint8Array[] {
    const e = this.env.slice();
    for (const p of this.plus) {
      let split = p.indexOf(61); // '='
      if (split < 0) split = p.length;
      for (let t = 0; t < e.length; t++) {
        const x = e[t];
        if (x.length > split && x[split] === 61 && startsWith(x, p.subarray(0, split))) {
          e[t] = e[e.length - 1];
          e.length--;
          break;
        }
      }
      if (split < p.length) e.push(p);
    }
    this.plus = [];
    this.env = e;
    return e;
  }

  /**
   * Lower (or, with `max`, raise the hard and then) the soft limit of a
   * resource the runtime itself depends on: the hard part is done now (so
   * its error shows now), the soft value right before exec.
   */
  limit(resource: number, cur: bigint, max: bigint | undefined): number {
    if (!DEFERRED.has(resource)) return 0;
    if (max !== undefined) {
      const r = new BigUint64Array(2);
      if (sys(NR.getrlimit, resource, addr(r)) === -1) return errno();
      if (r[1] !== max) {
        r[1] = max;
        if (r[0] > max) r[0] = max;
        if (sys(NR.setrlimit, resource, addr(r)) === -1) return errno();
      }
    }
    this.deferred.set(resource, cur);
    return 0;
  }

  /** The soft limit softlimit should start from: a deferred one if any. */
  pendingSoft(resource: number): bigint | undefined {
    return this.deferred.get(resource);
  }

  /** True if `resource`'s soft limit is applied at exec time rather than at once. */
  static deferred(resource: number): boolean {
    return DEFERRED.has(resource);
  }

  /**
   * The deferred soft limits (those `keep` accepts) as buffers ready for
   * setrlimit, plus the current ones to restore. Address space and data
   * come last: once they are set the runtime may be unable to allocate.
   */
  limitPlan(keep: (resource: number) => boolean = () => true): LimitPlan {
    const plan: LimitPlan = { res: [], set: [], old: [], keep: [] };
    const order = [...this.deferred.keys()].filter(keep).sort((a, b) =>
      Number(a === RLIMIT_AS || a === RLIMIT_DATA) - Number(b === RLIMIT_AS || b === RLIMIT_DATA)
    );
    for (const res of order) {
      const old = new BigUint64Array(2);
      if (sys(NR.getrlimit, res, addr(old)) === -1) continue;
      const cur = this.deferred.get(res)!;
      const set = new BigUint64Array([cur < old[1] ? cur : old[1], old[1]]);
      plan.res.push(res);
      plan.set.push(addr(set));
      plan.old.push(addr(old));
      plan.keep.push(set, old);
    }
    return plan;
  }

  /** Apply a plan's limits (`restore`: put the old ones back). Allocates nothing. */
  applyPlan(plan: LimitPlan, restore = false): void {
    const call = syscall6();
    const addrs = restore ? plan.old : plan.set;
    for (let i = 0; i < plan.res.length; i++) call(NR.setrlimit, plan.res[i], addrs[i], 0, 0, 0, 0);
  }

  /**
   * Signals to reset to default in a spawned child: SIGPIPE, which the
   * runtime ignores (handlers are reset by exec anyway; what our parent had
   * us ignore stays ignored, as it would through 0.76's fork and exec).
   */
  sigdefault(): Uint8Array<ArrayBuffer> {
    const set = new Uint8Array(SIZEOF_SIGSET);
    // and glibc's internal 32 and 33: posix_spawn would leave them ignored in the child
    for (const sig of [SIGPIPE, 32, 33]) set[(sig - 1) >> 3] |= 1 << ((sig - 1) & 7);
    return set;
  }

  /**
   * Signal dispositions as a fresh process would get them. exec resets
   * caught signals to default by itself and keeps ignored ones: the only
   * disposition the runtime adds is SIGPIPE ignored (Rust does it), so
   * SIGPIPE goes back to default; everything our parent had us ignore stays
   * ignored, as through 0.76's exec. The runtime leaves the signal mask as
   * it got it. Returns how to put SIGPIPE back if every execve fails.
   */
  private resetSignals(): () => void {
    // struct kernel_sigaction: handler, flags, restorer, mask (8 bytes each)
    const act = new BigUint64Array([SIG_DFL, 0n, 0n, 0n]);
    const old = new BigUint64Array(4);
    const ok = sys(NR.rt_sigaction, SIGPIPE, addr(act), addr(old), 8) === 0;
    return () => {
      if (ok) sys(NR.rt_sigaction, SIGPIPE, addr(old), 0, 8);
    };
  }

  /**
   * Make the process what the exec'd program must start as (but for the
   * limits: see {@linkcode execBurst}): SIGPIPE default, handed-on
   * descriptors at their numbers (the runtime's descriptor there is saved).
   * Returns how to undo it if every execve fails.
   */
  private prepare(): () => void {
    let top = 0;
    for (const h of this.handoff) top = Math.max(top, h.target + 1);
    const moves: { target: number; saved: number; tmp: number }[] = [];
    for (const h of this.handoff) {
      const tmp = sys(NR.fcntl, h.fd, F_DUPFD_CLOEXEC, top);
      moves.push({ target: h.target, saved: sys(NR.fcntl, h.target, F_DUPFD_CLOEXEC, top), tmp });
    }
    for (const m of moves) sys(NR.dup2, m.tmp, m.target);
    const signals = this.resetSignals();
    return () => {
      signals();
      for (const m of moves.reverse()) {
        if (m.saved === -1) sys(NR.close, m.target);
        else {
          sys(NR.dup2, m.saved, m.target);
          sys(NR.fcntl, m.target, F_SETFD, FD_CLOEXEC);
          sys(NR.close, m.saved);
        }
        sys(NR.close, m.tmp);
      }
    };
  }

  /**
   * setrlimit the deferred limits, execve, and (execve failed) put the
   * limits back: a straight line of FFI calls on prepared buffers, so the
   * runtime allocates nothing while the limits may starve it. Returns errno.
   */
  private execBurst(
    plan: LimitPlan,
    path: bigint,
    argv: bigint,
    envp: bigint,
    nr: number = NR.execve,
  ): number {
    const call = syscall6();
    const err = this.errnoView!;
    for (let i = 0; i < plan.res.length; i++) {
      call(NR.setrlimit, plan.res[i], plan.set[i], 0, 0, 0, 0);
    }
    call(nr, path, argv, envp, 0, 0, 0);
    const e = err.getInt32();
    for (let i = 0; i < plan.res.length; i++) {
      call(NR.setrlimit, plan.res[i], plan.old[i], 0, 0, 0, 0);
    }
    return e;
  }

  /** Everything an exec needs, made before any limit is applied. */
  private execSetup(): LimitPlan {
    this.errnoView ??= new Deno.UnsafePointerView(libc().__errno_location()!);
    const plan = this.limitPlan();
    this.execBurst({ res: [], set: [], old: [], keep: [] }, 0n, 0n, 0n, NR.getpid); // warm it up
    return plan;
  }

  /**
   * `pathexec_run` with in-process chaining: returns the name of our program
   * to run here (and the candidate path), or exits the process image via
   * execve, or returns the errno to report.
   */
  run(file: string, argv: string[], envp: Uint8Array[], path: Uint8Array | undefined):
    | { ours: string; candidate: Uint8Array }
    | { errno: number } {
    const fileB = bytes(file);
    const candidates: Uint8Array[] = [];
    if (file.includes("/")) {
      candidates.push(fileB);
    } else {
      const p = path ?? bytes("/bin:/usr/bin");
      let start = 0;
      for (let i = 0; i <= p.length; i++) {
        if (i === p.length || p[i] === 58) { // ':'
          const dir = i === start ? bytes(".") : p.subarray(start, i);
          candidates.push(cat(dir, "/", fileB));
          start = i + 1;
        }
      }
    }
    let undoExec: (() => void) | undefined;
    let vec: ExecVectors | undefined;
    let plan: LimitPlan | undefined;
    const undo = () => {
      undoExec?.();
      undoExec = undefined;
    };
    let saved = 0;
    let err = ENOENT;
    for (const cand of candidates) {
      const ours = this.ours(cand, basename(file));
      if (ours !== undefined) {
        if (ours === 0) {
          undo();
          return { ours: basename(file), candidate: cand };
        }
        err = ours;
      } else {
        vec ??= vectors(argv, envp);
        plan ??= this.execSetup();
        const path = cstr(cand);
        const [pa, aa, ea] = [addr(path), addr(vec.argv), addr(vec.envp)];
        undoExec ??= this.prepare();
        err = this.execBurst(plan, pa, aa, ea);
      }
      if (candidates.length === 1 && file.includes("/")) break;
      if (err !== ENOENT) {
        saved = err;
        if (err !== EACCES && err !== EPERM && err !== EISDIR) break;
      }
    }
    undo();
    return { errno: saved || err };
  }

  /**
   * For a candidate that is this executable under one of our program names:
   * 0 if it would run (executable), else the errno execve would give.
   * undefined for anything else (exec it for real).
   */
  private ours(cand: Uint8Array, name: string): number | undefined {
    const me = self();
    if (me === null) return undefined;
    if (!chainable(name) || fileId(cand) !== me) return undefined;
    if (sysPath(NR.access, cand, 1 /* X_OK */) === -1) return errno();
    return 0;
  }

  /** execve one file (no search, no in-process chaining); returns the errno when it fails. */
  execFile(file: Uint8Array, argv: string[], envp: Uint8Array[]): number {
    const vec = vectors(argv, envp);
    const plan = this.execSetup();
    const path = cstr(file);
    const [pa, aa, ea] = [addr(path), addr(vec.argv), addr(vec.envp)];
    const undo = this.prepare();
    const err = this.execBurst(plan, pa, aa, ea);
    undo();
    return err;
  }

  /** Make Deno.env show the chain's environment (for a program of ours run in-process). */
  syncDenoEnv(): void {
    const want = new Map<string, string>();
    for (const e of this.env) {
      const i = e.indexOf(61);
      if (i <= 0) continue;
      const k = dec.decode(e.subarray(0, i));
      if (!want.has(k)) want.set(k, dec.decode(e.subarray(i + 1)));
    }
    for (const k of Object.keys(Deno.env.toObject())) {
      if (!want.has(k)) Deno.env.delete(k);
    }
    for (const [k, v] of want) {
      try {
        if (Deno.env.get(k) !== v) Deno.env.set(k, v);
      } catch {
        // a name the runtime refuses (e.g. holds a NUL): the program cannot see it either way
      }
    }
  }
}

/** Message `PROG: fatal: unable to run FILE: ERR`, exit 111. */
function cannotRun(prog: string, file: string, err: number): never {
  dieSys(prog, `unable to run ${file}`, err);
}

/**
 * Run chain loader `prog` (whose effect is `apply`) with `args`, then every
 * following program of ours in this process, and exec the first foreign one.
 */
export async function runChain(prog: string, apply: Apply, args: string[]): Promise<number | void> {
  const ctx = new Chain([prog, ...args]);
  // every program of ours named in the chain is imported before any link changes the process
  // (setuidgid may take away the right to read our own files); dispatch() started it
  await loadNamed(args);
  let name = prog;
  let fn = apply;
  let argv = args;
  let argv0 = prog;
  for (;;) {
    const path = ctx.getenv("PATH"); // pathexec_run reads PATH from the environ it runs in
    const child = fn(argv, ctx, argv0);
    if (typeof child === "number") return child;
    const envp = ctx.commit();
    const r = ctx.run(child[0], child, envp, path);
    if ("errno" in r) cannotRun(name, child[0], r.errno);
    name = r.ours;
    argv0 = child[0];
    argv = child.slice(1);
    if ((LINKS as readonly string[]).includes(name)) {
      fn = ((await loadProgram(name)) as LinkModule).apply;
      continue;
    }
    // the chain ends in another program of ours: run it here as a fresh start-up would
    let mod: MainModule;
    try {
      mod = (await loadProgram(name)) as MainModule;
    } catch {
      // cannot load it here (e.g. unreadable after setuidgid): exec it for real
      const again = ctx.execFile(r.candidate, child, envp);
      cannotRun(prog, child[0], again);
    }
    ctx.syncDenoEnv();
    // setlock's locks stay open for the program's own children, as they would in 0.76
    for (const h of ctx.handoffs()) sys(NR.fcntl, h.fd, F_SETFD, 0);
    // a fresh start-up would run under the limits too, but for address space and data: the
    // runtime needs gigabytes of address space and would die at its next heap growth
    ctx.applyPlan(ctx.limitPlan((r) => r !== RLIMIT_AS && r !== RLIMIT_DATA));
    return await mod.main(argv);
  }
}
