/**
 * libc bindings through Deno FFI, for what is not a plain system call (posix_spawn, accounts
 * through NSS, glibc's all-threads credential changes, localtime_r, signal), and the Linux
 * x86_64 constants. Plain system calls go through lib/sys.ts, whose results carry their errno:
 * nothing here is followed by an errno read.
 *
 * The library is opened on first use, so programs that never touch FFI do
 * not pay for it.
 * @module
 */

const SYMBOLS = {
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  getgrouplist: { parameters: ["buffer", "u32", "buffer", "buffer"], result: "i32" },
  signal: { parameters: ["i32", "usize"], result: "usize" },
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
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
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
  for (const n of names) {
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
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;

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
