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
/** x86_64 exit_group (not in lib/sys.ts's NR table yet). */
const NR_EXIT_GROUP = 231;

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
      // without a usable notification-fd, up is ready
      if (notifyFdOf(dir) === undefined) return true;
      return readExtra(dir)?.ready?.pid === pid;
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
    if (all ? done === dirs.length : done > 0) exitNow(0);
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
  sys(NR_EXIT_GROUP, code);
  Deno.exit(code); // not reached
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
