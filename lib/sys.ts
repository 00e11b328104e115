/**
 * Every raw system call of the project, with its error in its result: `sys(NR.x, ...)` returns
 * what the kernel returned, a value ≥ 0 or `-errno`. There is no errno to read afterwards, so
 * nothing that runs between a failing call and the read (V8's garbage collector or compiler,
 * a lazy symbol bind) can replace it: glibc's `syscall()` stores the error in the thread's
 * errno and returns -1, and 2-15 % of loaded runs read another call's errno that way.
 *
 * The call itself is nine instructions of x86_64 machine code (the kernel's calling
 * convention: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; `syscall`; result in
 * rax). They are made into a one-symbol shared library (lib/elf_stub.ts) loaded from a memfd,
 * so that Deno calls them through V8's fast API: 1.7 µs a call here, 1.0 of it the kernel's,
 * against 3.8 µs through `UnsafeFnPointer.call` on a bare executable page, which is what is
 * used where the library cannot be loaded. Where no such page can be had either (a kernel
 * that forbids it), glibc's `syscall()` and errno are used instead, with the race above.
 * @module
 */
import { cstr } from "./bytes.ts";
import { sharedObject } from "./elf_stub.ts";
import { EINTR } from "./errors.ts";

/** x86_64 system call numbers. */
export const NR = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  stat: 4,
  fstat: 5,
  lstat: 6,
  lseek: 8,
  pread64: 17,
  pwrite64: 18,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  rt_sigaction: 13,
  rt_sigprocmask: 14,
  access: 21,
  dup: 32,
  dup2: 33,
  getpid: 39,
  clone: 56,
  execve: 59,
  wait4: 61,
  kill: 62,
  fcntl: 72,
  flock: 73,
  fsync: 74,
  ftruncate: 77,
  chdir: 80,
  fchdir: 81,
  rename: 82,
  mkdir: 83,
  rmdir: 84,
  link: 86,
  unlink: 87,
  symlink: 88,
  readlink: 89,
  fchmod: 91,
  fchown: 93,
  umask: 95,
  getrlimit: 97,
  getuid: 102,
  getgid: 104,
  setuid: 105,
  setgid: 106,
  geteuid: 107,
  getegid: 108,
  setpgid: 109,
  getppid: 110,
  setsid: 112,
  getgroups: 115,
  setgroups: 116,
  setfsuid: 122,
  setfsgid: 123,
  setrlimit: 160,
  getdents64: 217,
  inotify_add_watch: 254,
  exit_group: 231,
  epoll_wait: 232,
  epoll_ctl: 233,
  openat: 257,
  mkdirat: 258,
  mknodat: 259,
  fchownat: 260,
  newfstatat: 262,
  unlinkat: 263,
  renameat: 264,
  linkat: 265,
  readlinkat: 267,
  fchmodat: 268,
  faccessat: 269,
  splice: 275,
  tee: 276,
  eventfd2: 290,
  epoll_create1: 291,
  dup3: 292,
  pipe2: 293,
  inotify_init1: 294,
  prlimit64: 302,
  memfd_create: 319,
  pidfd_open: 434,
} as const;

/** `dirfd` meaning "the current directory" for the `*at` calls. */
export const AT_FDCWD = -100;
/** `*at` flag: do not follow a final symbolic link. */
export const AT_SYMLINK_NOFOLLOW = 0x100;

type Arg = number | bigint;
type Call = (nr: Arg, a: Arg, b: Arg, c: Arg, d: Arg, e: Arg, f: Arg) => number;
type AsyncCall = (nr: Arg, a: Arg, b: Arg, c: Arg, d: Arg, e: Arg, f: Arg) => Promise<number>;

// mov rax,rdi; mov rdi,rsi; mov rsi,rdx; mov rdx,rcx; mov r10,r8; mov r8,r9;
// mov r9,[rsp+8]; syscall; ret
const CODE = [
  0x48,
  0x89,
  0xf8,
  0x48,
  0x89,
  0xf7,
  0x48,
  0x89,
  0xd6,
  0x48,
  0x89,
  0xca,
  0x4d,
  0x89,
  0xc2,
  0x4d,
  0x89,
  0xc8,
  0x4c,
  0x8b,
  0x4c,
  0x24,
  0x08,
  0x0f,
  0x05,
  0xc3,
];
const SEVEN = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"] as const;

let call: Call | undefined;
let asyncCall: AsyncCall | undefined;
let stub: Deno.PointerValue = null;

/** A callable for the stub with result type `result` (see {@linkcode sys}). */
function stubCall(result: "i32" | "i64", nonblocking = false): (...args: Arg[]) => unknown {
  const def: Deno.ForeignFunction = { parameters: SEVEN, result, nonblocking };
  const fp = new Deno.UnsafeFnPointer(stub as Deno.PointerObject<Deno.ForeignFunction>, def);
  held.push(fp);
  return fp.call.bind(fp) as (...args: Arg[]) => unknown;
}
/** Keeps the libraries referenced. */
const held: unknown[] = [];

/** The executable page holding the stub, or null where none can be had. */
function makeStub(): Deno.PointerValue {
  if (Deno.build.arch !== "x86_64") return null;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
      mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
      munmap: { parameters: ["pointer", "usize"], result: "i32" },
    });
    held.push(lib);
    // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    const p = lib.symbols.mmap(null, 4096n, 3, 0x22, -1, 0n);
    if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) return null;
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, 4096)).set(CODE);
    if (lib.symbols.mprotect(p, 4096n, 5 /* PROT_READ|PROT_EXEC */) !== 0) {
      lib.symbols.munmap(p, 4096n);
      return null;
    }
    return p;
  } catch {
    return null;
  }
}

/** glibc's `syscall()` + errno, for where the stub cannot run (see the module's text). */
function fallback(): Call {
  const lib = Deno.dlopen("libc.so.6", {
    __errno_location: { parameters: [], result: "pointer" },
    syscall: { parameters: SEVEN, result: "i32" },
  });
  held.push(lib);
  const errnoView = new Deno.UnsafePointerView(lib.symbols.__errno_location()!);
  const fn = lib.symbols.syscall as unknown as Call;
  return (nr, a, b, c, d, e, f) => {
    const r = fn(nr, a, b, c, d, e, f);
    return r === -1 ? -errnoView.getInt32() : r;
  };
}

/**
 * The stub as a library symbol (see lib/elf_stub.ts): loaded from a memfd, it is called through
 * V8's fast API; undefined where that cannot be had (no memfd, no /proc, a memfd that may not
 * be executed), and the stub is called by pointer instead.
 */
function stubLibrary(): { call: Call; callAsync: AsyncCall } | undefined {
  try {
    const libc = Deno.dlopen("libc.so.6", {
      memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
      write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      close: { parameters: ["i32"], result: "i32" },
    });
    held.push(libc);
    const fd = libc.symbols.memfd_create(cstr("daemontools-syscall"), 1 /* MFD_CLOEXEC */);
    if (fd < 0) return undefined;
    try {
      const so = sharedObject("dt_syscall", Uint8Array.from(CODE));
      for (let off = 0; off < so.length;) {
        const n = Number(libc.symbols.write(fd, so.subarray(off), BigInt(so.length - off)));
        if (n <= 0) return undefined;
        off += n;
      }
      const lib = Deno.dlopen(`/proc/self/fd/${fd}`, {
        call: { name: "dt_syscall", parameters: SEVEN, result: "i32" },
        callAsync: { name: "dt_syscall", parameters: SEVEN, result: "i32", nonblocking: true },
      });
      held.push(lib);
      return lib.symbols as unknown as { call: Call; callAsync: AsyncCall };
    } finally {
      libc.symbols.close(fd);
    }
  } catch {
    return undefined;
  }
}

function bind(): Call {
  const lib = stubLibrary();
  if (lib !== undefined) {
    asyncCall = lib.callAsync;
    return lib.call;
  }
  stub = makeStub();
  if (stub === null) return fallback();
  return stubCall("i32") as Call;
}

/**
 * A raw system call: the kernel's result (≥ 0) or `-errno`. The result is read as an int
 * (every call made here fits).
 */
export function sys(
  nr: number,
  a: Arg = 0,
  b: Arg = 0,
  c: Arg = 0,
  d: Arg = 0,
  e: Arg = 0,
  f: Arg = 0,
): number {
  return (call ??= bind())(nr, a, b, c, d, e, f);
}

/** Six arguments, missing ones 0. */
function six(args: Arg[]): [Arg, Arg, Arg, Arg, Arg, Arg] {
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = args;
  return [a, b, c, d, e, f];
}

/**
 * {@linkcode sys} on a thread of the runtime's pool: the returned promise settles with the
 * result, so a blocking call (epoll_wait) does not hold up the event loop.
 */
export function sysAsync(nr: number, ...args: Arg[]): Promise<number> {
  call ??= bind();
  if (asyncCall === undefined) {
    if (stub !== null) {
      asyncCall = stubCall("i32", true) as AsyncCall;
    } else {
      const sync = call;
      asyncCall = (...args) => Promise.resolve(sync(...args));
    }
  }
  return asyncCall(nr, ...six(args));
}

/** Address of a buffer for a raw system call (keep the buffer referenced across the call). */
export function addr(b: BufferSource | null): bigint {
  if (b === null) return 0n;
  const view = ArrayBuffer.isView(b);
  const buf = view ? b.buffer : b;
  // the start of an ArrayBuffer's bytes never moves (its view is off the heap once `.buffer`
  // was asked for): looked up once (UnsafePointer.of costs about 1 µs a call)
  let base = bases.get(buf);
  if (base === undefined) {
    base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as ArrayBuffer)));
    bases.set(buf, base);
  }
  return BigInt(view ? base + b.byteOffset : base);
}
const bases = new WeakMap<ArrayBufferLike, number>();

/** djb's allwrite: all of `b` to `fd`, again after EINTR; 0, or the errno of the failure. */
export function writeAll(fd: number, b: Uint8Array): number {
  for (let off = 0; off < b.length;) {
    const n = sys(NR.write, fd, addr(b.subarray(off) as Uint8Array<ArrayBuffer>), b.length - off);
    if (n === -EINTR) continue;
    if (n < 0) return -n;
    off += n;
  }
  return 0;
}

/** `sys` with a path (a string is encoded with lib/bytes.ts, NUL added) as first argument. */
export function sysPath(
  nr: number,
  path: string | Uint8Array,
  a: Arg = 0,
  b: Arg = 0,
  c: Arg = 0,
  d: Arg = 0,
): number {
  const p = cstr(path);
  return sys(nr, addr(p), a, b, c, d);
}

/** `sys` of an `*at` call with `dirfd` and a path as its first two arguments. */
export function sysAt(
  nr: number,
  dirfd: number,
  path: string | Uint8Array,
  a: Arg = 0,
  b: Arg = 0,
  c: Arg = 0,
): number {
  const p = cstr(path);
  return sys(nr, dirfd, addr(p), a, b, c);
}
