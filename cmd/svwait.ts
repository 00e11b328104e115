/**
 * svwait [-u | -U | -d | -D] [-a | -o] [-t MS] DIR...: wait until every (`-a`, the default) or
 * one (`-o`) DIR is up (`-u`, the default), up and ready (`-U`), down (`-d`) or down with its
 * `./finish` done (`-D`). Exit codes as s6-svwait's: 0 reached, 99 timed out, 100 usage, 102 a
 * supervisor died while waited on, 111 system error (e.g. supervise not running).
 *
 * No polling: one inotify instance watches every `DIR/supervise/`; the supervisor replaces
 * `status` and `extra` by rename (IN_MOVED_TO), and its death closes `lock` (IN_CLOSE_WRITE)
 * and its `ok` reader (IN_CLOSE_NOWRITE). The states are re-read only on those events, so our
 * own reads (and svstat's) wake nothing. The wait is one epoll_wait with the time left.
 * @module
 */
import { decode } from "../lib/bytes.ts";
import { EAGAIN, EINTR, ENOENT, ENXIO } from "../lib/errors.ts";
import { readExtra } from "../lib/extra_status.ts";
import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLLIN, O_CLOEXEC, O_NONBLOCK } from "../lib/libc.ts";
import { notifyFdOf } from "../lib/lifecycle.ts";
import { fatal, fatalSys, writeErr } from "../lib/msg.ts";
import { openWrite, readSmall } from "../lib/open.ts";
import { decodeStatus } from "../lib/status.ts";
import { parseOptions } from "../lib/options.ts";
import { addr, NR, sys, sysAt } from "../lib/sys.ts";

/** The inotify event bits svwait uses (linux/inotify.h). */
const IN = {
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  MOVED_TO: 0x80,
  DELETE_SELF: 0x400,
  IGNORED: 0x8000,
};

const statusBuf = new Uint8Array(64);

const USAGE = "svwait: usage: svwait [ -u | -U | -d | -D ] [ -a | -o ] [ -t ms ] dir ...\n";

/** What is waited for. */
export type Goal = "u" | "U" | "d" | "D";

/** One DIR's state as far as svwait cares; "dead": supervise is not running (or never ran). */
export function reached(dir: string, goal: Goal): boolean | "dead" {
  const fd = openWrite(`${dir}/supervise/ok`);
  if (fd === -ENXIO || fd === -ENOENT) return "dead"; // no reader, or no ok FIFO at all
  if (fd >= 0) sys(NR.close, fd);
  const st = decodeStatus(
    readSmall(`${dir}/supervise/status`, statusBuf) ?? statusBuf.subarray(0, 0),
  );
  if (!st) return false;
  const pid = st.pid;
  switch (goal) {
    case "u":
      return pid !== 0;
    case "d":
      return pid === 0;
    case "U":
      if (!pid) return false;
      if (readExtra(dir)?.ready?.pid === pid) return true;
      // without a usable notification-fd, up is ready
      return notifyFdOf(dir) === undefined;
    case "D":
      return pid === 0 && !readExtra(dir)?.finish;
  }
}

/** Run svwait; returns the exit code. */
export function main(args: string[]): number {
  const parsed = parseOptions("svwait", args, "uUdDaot:");
  const usage = () => {
    writeErr(USAGE);
    return 100;
  };
  if (!parsed) return usage();
  let goal: Goal = "u";
  let all = true;
  let timeout = -1;
  for (const { opt, arg } of parsed.opts) {
    if (opt === "a") all = true;
    else if (opt === "o") all = false;
    else if (opt === "t") {
      if (!/^[0-9]{1,12}$/.test(arg!)) return usage();
      timeout = Number(arg);
    } else goal = opt as Goal;
  }
  const dirs = parsed.operands;
  if (dirs.length === 0) return usage();
  const hold = memoryHolder();
  const end = timeout < 0 ? Infinity : performance.now() + timeout;

  // watch first, then look: a change between the two still wakes us
  const ino = sys(NR.inotify_init1, O_NONBLOCK | O_CLOEXEC);
  if (ino < 0) fatalSys("svwait", "unable to create an inotify instance", -ino);
  for (const dir of dirs) {
    const mask = IN.MOVED_TO | IN.CLOSE_WRITE | IN.CLOSE_NOWRITE | IN.DELETE_SELF;
    const wd = sysAt(NR.inotify_add_watch, ino, `${dir}/supervise`, mask);
    if (wd < 0) fatalSys("svwait", `unable to watch ${dir}/supervise`, -wd);
    if (reached(dir, goal) === "dead") {
      fatal("svwait", `unable to wait for ${dir}: supervise not running`);
    }
  }
  const ep = sys(NR.epoll_create1, EPOLL_CLOEXEC);
  if (ep < 0) fatalSys("svwait", "unable to create an epoll instance", -ep);
  const ev = new Uint8Array(12);
  new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
  const r = sys(NR.epoll_ctl, ep, EPOLL_CTL_ADD, ino, addr(ev));
  if (r < 0) fatalSys("svwait", "unable to watch the inotify instance", -r);

  const buf = new Uint8Array(4096);
  for (;;) {
    let done = 0;
    for (const dir of dirs) {
      const st = reached(dir, goal);
      if (st === "dead") fatal("svwait", `supervise for ${dir} died`, 102);
      if (st) done++;
    }
    if (all ? done === dirs.length : done > 0) {
      hold?.();
      exitNow(0);
    }
    // sleep until an event that may change a state (our own opens and reads change none)
    for (let relevant = false; !relevant;) {
      const left = end - performance.now();
      if (left <= 0) fatal("svwait", "timed out", 99);
      const n = sys(NR.epoll_wait, ep, addr(ev), 1, left === Infinity ? -1 : Math.ceil(left));
      if (n < 0 && n !== -EINTR) fatalSys("svwait", "unable to wait", -n);
      for (;;) {
        const got = sys(NR.read, ino, addr(buf), buf.length);
        if (got === -EAGAIN || got === 0) break;
        if (got < 0) fatalSys("svwait", "unable to read the inotify instance", -got);
        if (eventsMatter(buf.subarray(0, got))) relevant = true;
      }
    }
  }
}

/**
 * End the process at once: svwait writes nothing but its messages (synchronously, before this)
 * and has no unload handler, so Deno.exit's teardown (unload event, the runtime's exit path) only
 * delays the moment the caller sees the exit.
 */
function exitNow(code: number): never {
  sys(NR.exit_group, code);
  Deno.exit(code); // not reached
}

/**
 * The machine code a memory holder runs (x86_64; `PPID` at byte 52 is patched in): block every
 * signal, ask for SIGKILL when the parent dies (PR_SET_PDEATHSIG), end at once if the parent is
 * gone already (getppid differs), else pause() for ever.
 */
const HOLDER = [
  ...[0xb8, 14, 0, 0, 0, 0xbf, 2, 0, 0, 0], // eax = rt_sigprocmask, edi = SIG_SETMASK
  ...[0x48, 0x8d, 0x35, 63, 0, 0, 0], // rsi = the full mask at byte 80
  ...[0x31, 0xd2, 0x41, 0xba, 8, 0, 0, 0, 0x0f, 0x05], // rdx = 0, r10 = 8; syscall
  ...[0xb8, 157, 0, 0, 0, 0xbf, 1, 0, 0, 0], // eax = prctl, edi = PR_SET_PDEATHSIG
  ...[0xbe, 9, 0, 0, 0, 0x0f, 0x05], // esi = SIGKILL; syscall
  ...[0xb8, 110, 0, 0, 0, 0x0f, 0x05], // getppid
  ...[0x3d, 0, 0, 0, 0, 0x75, 9], // cmp eax, PPID; jne +9 (exit)
  ...[0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7], // pause; jmp back to it
  ...[0x31, 0xff, 0xb8, 60, 0, 0, 0, 0x0f, 0x05], // exit(0)
  ...[0x90, 0x90, 0x90, 0x90, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // pad; the mask
];
const HOLDER_PPID_AT = 52;

/** What {@linkcode memoryHolder} keeps referenced: the holder's code page and stack. */
const holderMemory: Uint8Array[] = [];

/**
 * Why: the caller sees svwait exit only once the kernel has torn its address space down, which
 * for a Deno process took 5-8 ms of the 15-18 ms from a readiness write to svwait's exit
 * (docs/lifecycle.md). A process that shares the address space (clone with CLONE_VM) and lives
 * a moment longer moves that teardown past the exit: the caller is told at once, and the
 * holder, killed by our death, frees the memory after. Prepared here (its code page and stack,
 * off the waiting path); the returned function starts it. Undefined where it cannot be had
 * (not x86_64, no executable page): svwait then exits as any process does.
 */
function memoryHolder(): (() => void) | undefined {
  if (Deno.build.arch !== "x86_64") return undefined;
  const code = new Uint8Array(8192);
  const page = (addr(code) + 4095n) & ~4095n; // a whole page inside `code`
  const at = Number(page - addr(code));
  code.set(HOLDER, at);
  new DataView(code.buffer).setInt32(at + HOLDER_PPID_AT, sys(NR.getpid), true);
  if (sys(NR.mprotect, page, 4096, 5 /* PROT_READ|PROT_EXEC */) < 0) return undefined;
  // the stack: lib/sys.ts's stub returns (ret) in the child to the address on its top
  const stack = new Uint8Array(65536); // room for a signal frame before the mask is set
  const sp = ((addr(stack) + 65536n) & ~15n) - 16n;
  new DataView(stack.buffer).setBigUint64(Number(sp - addr(stack)), page, true);
  holderMemory.push(code, stack);
  const CLONE_VM = 0x100; // and no exit signal: nobody waits for it but init
  return () => void sys(NR.clone, CLONE_VM, sp, 0, 0, 0);
}

/** Do these inotify events say a status changed or a supervisor went away? */
export function eventsMatter(b: Uint8Array): boolean {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let off = 0; off + 16 <= b.length;) {
    const mask = v.getUint32(off + 4, true);
    const len = v.getUint32(off + 12, true);
    const raw = b.subarray(off + 16, off + 16 + len);
    const z = raw.indexOf(0);
    const name = decode(z < 0 ? raw : raw.subarray(0, z));
    off += 16 + len;
    if (mask & (IN.MOVED_TO | IN.DELETE_SELF | IN.IGNORED)) return true;
    if (mask & IN.CLOSE_WRITE && name === "lock") return true;
    if (mask & IN.CLOSE_NOWRITE && name === "ok") return true;
  }
  return false;
}
