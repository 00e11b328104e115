/**
 * libc bindings through Deno FFI: the system calls Deno itself does not
 * offer (FIFOs with O_NONBLOCK, flock on raw fds, exec, posix_spawn, epoll,
 * rlimits, credentials). Every wrapper returns the raw result; read
 * {@linkcode errno} right after a failing call.
 *
 * The library is opened on first use, so programs that never touch FFI do
 * not pay for it.
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchdir: { parameters: ["i32"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  setsid: { parameters: [], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  getgrouplist: { parameters: ["buffer", "u32", "buffer", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  execvp: { parameters: ["buffer", "buffer"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  signal: { parameters: ["i32", "usize"], result: "usize" },
  sigprocmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawnp: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addclose: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setpgroup: { parameters: ["buffer", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  syscall6: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  syscall6i: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: "i32",
  },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  stat: { parameters: ["buffer", "buffer"], result: "i32" },
  localtime_r: { parameters: ["buffer", "buffer"], result: "pointer" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Lib | undefined;
const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];

/**
 * The libc symbol table. Each symbol is bound on first use (one small dlopen
 * each): binding the whole table at once costs ~10 ms of start-up, ~2.5 ms +
 * ~0.25 ms a symbol this way, which matters for svc/svstat/svok.
 */
export function libc(): Lib {
  if (lib !== undefined) return lib;
  lib = table();
  // bound now: binding it lazily inside errno() would run a dlopen between the failing call
  // and the read, which may clobber errno
  void lib.__errno_location;
  return lib;
}

let unbound: Lib | undefined;

/** The symbol table, nothing bound yet. */
function table(): Lib {
  if (unbound !== undefined) return unbound;
  const table = {} as Record<string, unknown>;
  for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
    Object.defineProperty(table, name, {
      configurable: true,
      enumerable: true,
      get() {
        const dl = Deno.dlopen("libc.so.6", { [name]: SYMBOLS[name] });
        opened.push(dl); // keep the library referenced
        const fn = dl.symbols[name];
        Object.defineProperty(table, name, { value: fn, enumerable: true, writable: true });
        return fn;
      },
    });
  }
  unbound = table as Lib;
  return unbound;
}

/**
 * Bind `names` now, in one dlopen: a symbol costs ~0.1 ms in a batch against
 * ~0.3 ms alone. For short-lived programs that know what they will call.
 */
export function bindNow(...names: (keyof typeof SYMBOLS)[]): void {
  const t = table() as unknown as Record<string, unknown>;
  const want: Record<string, Deno.ForeignFunction> = {};
  // __errno_location in the same dlopen (libc() alone would open the library once more for it)
  for (const n of ["__errno_location", ...names] as (keyof typeof SYMBOLS)[]) {
    if (Object.getOwnPropertyDescriptor(t, n)?.get) {
      want[n] = SYMBOLS[n] as Deno.ForeignFunction;
    }
  }
  if (Object.keys(want).length > 0) {
    const dl = Deno.dlopen("libc.so.6", want);
    opened.push(dl);
    for (const n of Object.keys(want)) {
      Object.defineProperty(t, n, { value: dl.symbols[n], enumerable: true, writable: true });
    }
  }
  lib = t as unknown as Lib;
}

/** errno of the last failing libc call (read it at once). */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

const enc = new TextEncoder();

/** A NUL-terminated copy of `s` for passing as `char*`. */
export function cstr(s: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const b = typeof s === "string" ? enc.encode(s) : s;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/**
 * A `char**` (NULL-terminated) for exec/spawn. Keep the returned object
 * referenced until the call returns: it owns the strings.
 */
export function cstrArray(items: readonly string[]): {
  ptrs: BigUint64Array<ArrayBuffer>;
  keep: Uint8Array[];
} {
  const keep = items.map((s) => cstr(s));
  const ptrs = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => {
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return { ptrs, keep };
}

/** Linux x86_64 constants used across the programs. */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const WNOHANG = 1;

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGWINCH = 28;

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;
export const SIG_SETMASK = 2;

export const POSIX_SPAWN_SETPGROUP = 0x02;
export const POSIX_SPAWN_SETSIGDEF = 0x04;
export const POSIX_SPAWN_SETSIGMASK = 0x08;
export const POSIX_SPAWN_SETSID = 0x80;

export const EPOLL_CLOEXEC = O_CLOEXEC;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;

export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;

export const SYS_pidfd_open = 434;
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIM_INFINITY = 0xffffffffffffffffn;

/** Sizes of opaque glibc structures (x86_64), for allocating buffers. */
export const SIZEOF_FILE_ACTIONS = 80;
export const SIZEOF_SPAWNATTR = 336;
export const SIZEOF_SIGSET = 128;
export const SIZEOF_EPOLL_EVENT = 12;
export const SIZEOF_STAT = 144;

let environLib: Deno.DynamicLibrary<{ environ: { type: "pointer" } }> | undefined;

/**
 * libc's `environ` now, entry by entry as raw bytes, in order: what a C program hands its
 * children. It starts as the kernel's (/proc/self/environ) and follows the runtime's own
 * changes (`Deno.env.set`/`delete` go through libc's setenv/unsetenv).
 */
export function environ(): Uint8Array[] {
  if (environLib === undefined) {
    environLib = Deno.dlopen("libc.so.6", { environ: { type: "pointer" } });
    opened.push(environLib as unknown as Deno.DynamicLibrary<Deno.ForeignLibraryInterface>);
  }
  // the symbol's value is the address of the variable `char **environ`
  const at = environLib.symbols.environ as Deno.PointerValue;
  const envp = at === null ? null : new Deno.UnsafePointerView(at).getPointer(0);
  if (envp === null) return [];
  const list = new Deno.UnsafePointerView(envp);
  const out: Uint8Array[] = [];
  for (let i = 0;; i += 8) {
    const p = list.getPointer(i);
    if (p === null) return out;
    const s = new Deno.UnsafePointerView(p);
    let n = 0;
    while (s.getUint8(n) !== 0) n++;
    out.push(new Uint8Array(s.getArrayBuffer(n)).slice());
  }
}
