/**
 * svscan [DIR]: supervise every service directory in DIR (default: the current directory),
 * daemontools 0.76 §6.1, with every supervisor hosted in THIS process (lib/service.ts on one
 * shared reactor) instead of one `supervise` process per service. Each service directory keeps
 * supervise's on-disk interface (lock, control and ok FIFOs, 18-byte status), so svc, svstat
 * and svok (ours or Debian's) work on it unchanged.
 *
 * Beyond 0.76 (see docs/svscan.md): new directories are picked up at once (directory watch;
 * the 5-second rescan stays as the fallback); DIR holding a `run` file or already scanned by
 * another svscan (lock `DIR/.svscan/lock`) is refused; TERM/INT stop every service in order
 * (services first, each logger once its service is gone and the pipe is drained) then exit 0,
 * HUP rescans; as pid 1 orphans are reaped; after a SIGKILL the next svscan adopts the
 * services still running and reopens their log pipes (named FIFOs in `DIR/.svscan/`).
 * @module
 */
import { errnoOf, errorStr } from "../lib/errors.ts";
import {
  cstr,
  errno,
  libc,
  LOCK_EX,
  LOCK_NB,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_WRONLY,
  SIGKILL,
  WNOHANG,
} from "../lib/libc.ts";
import { writeErr } from "../lib/msg.ts";
import { reactor } from "../lib/reactor.ts";
import { dropEntry, type Entry, type ScanHost, Scanner } from "../lib/scan.ts";
import { Service, ServiceError } from "../lib/service.ts";
import { currentEnv } from "../lib/spawn.ts";
import { adoptable } from "../lib/svscan_adopt.ts";
import { leanHeap } from "../lib/svscan_v8.ts";
import { eventsReliable } from "../lib/svscan_watch.ts";
import { closeLogPipe, closeWriteEnd, serviceEnd, STATE_DIR } from "../lib/svscan_pipe.ts";

/** 0.76 sleeps 5 seconds between scans (kept when events may be missing or a retry waits). */
const RESCAN_MS = 5000;
/** With reliable directory events and nothing pending: a safety scan this rarely (10 min). */
const SAFETY_MS = 600_000;
/** While a new directory waits for its `run`, look again this often. */
const DEFERRED_MS = 50;
/** Orderly shutdown: after this, every process still running gets SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

function warn(text: string): void {
  writeErr(`svscan: warning: ${text}\n`);
}

function die(text: string): never {
  writeErr(`svscan: fatal: ${text}\n`);
  Deno.exit(111);
}

/** The misuse guard: refuse a service directory, and a DIR another svscan scans. */
function guard(label: string): boolean {
  try {
    if (!Deno.statSync("run").isDirectory) {
      die(`${label} is a service directory (it holds run), not a scan directory`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      // fine: the usual case
    } else if (errnoOf(e) !== 20 /* ENOTDIR */) {
      // unreadable `run` still means a service directory
      die(`${label} is a service directory (it holds run), not a scan directory`);
    }
  }
  try {
    Deno.mkdirSync(STATE_DIR, { mode: 0o755 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      warn(
        `unable to create ${label}/${STATE_DIR}: ${errorStr(errnoOf(e))}: ` +
          `no guard against a second svscan, log pipes not kept across restarts`,
      );
      return false;
    }
  }
  const c = libc();
  const fd = c.open(
    cstr(`${STATE_DIR}/lock`),
    O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT | O_CLOEXEC,
    0o600,
  );
  if (fd < 0) {
    warn(`unable to open ${label}/${STATE_DIR}/lock: ${errorStr(errno())}`);
    return false;
  }
  if (c.flock(fd, LOCK_EX | LOCK_NB) < 0) {
    const n = errno();
    if (n === 11) die(`another svscan is already scanning ${label}`);
    die(`unable to lock ${label}/${STATE_DIR}/lock: ${errorStr(n)}`);
  }
  return true; // fd stays open (and locked) for the life of the process
}

/** svscan itself: the scanner, its timers, the watcher, signals and shutdown. */
class SvScan implements ScanHost {
  readonly fifos: boolean;
  readonly scanner: Scanner;
  #reactor = reactor();
  #rescan: ReturnType<typeof setTimeout> | undefined;
  #rescanAt = Infinity;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #watcher: Deno.FsWatcher | undefined;
  #stopping = false;
  #pid1: boolean;
  #reliable: boolean;
  /** Every service's environment: ours, taken once (encoded once: lib/spawn.ts). */
  #env = currentEnv();
  /** `/proc/PID/fd` when /proc is there (see Entry.fd), else "". */
  #procFd = ((p) => {
    try {
      return Deno.statSync(p).isDirectory ? p : "";
    } catch {
      return "";
    }
  })(`/proc/${Deno.pid}/fd`);

  constructor(fifos: boolean) {
    this.fifos = fifos;
    this.#reliable = eventsReliable(".");
    this.scanner = new Scanner(this);
    this.#pid1 = libc().getpid() === 1;
  }

  warn(text: string): void {
    warn(text);
  }

  #log = (line: string): void => writeErr(line);

  #supervise(e: Entry, main: boolean): Service | undefined {
    const base = e.fd >= 0 && this.#procFd ? `${this.#procFd}/${e.fd}` : e.name;
    const path = main ? base : `${base}/log`;
    const svc = new Service(main ? e.name : "log", {
      reactor: this.#reactor,
      path,
      stdin: main ? undefined : e.pipe?.r,
      stdout: main && e.pipe ? serviceEnd(e.pipe) : undefined,
      log: this.#log,
      onExit: (s) => this.#ended(e, s),
      env: this.#env,
    });
    try {
      const pid = adoptable(`${path}/supervise/status`);
      if (pid) svc.adopt(pid);
      else svc.start();
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      writeErr(err.line);
      return undefined;
    }
    return svc;
  }

  startMain(e: Entry): Service | undefined {
    if (this.#stopping) return undefined;
    return this.#supervise(e, true);
  }

  startLog(e: Entry): Service | undefined {
    if (this.#stopping) return undefined;
    return this.#supervise(e, false);
  }

  /** A supervisor ended (`svc -x`, or shutdown): 0.76 restarts it at the next scan. */
  #ended(e: Entry, s: Service): void {
    if (e.main === s) e.main = undefined;
    if (e.log === s) e.log = undefined;
    this.scanner.unsettled = true;
    if (this.#stopping) this.#shutdownStep(e);
    else this.#armRescan();
  }

  /** Scan now; reschedule quick looks while new directories wait for `run`. */
  scan(eager: boolean): void {
    if (this.#stopping) return;
    const deferred = this.scanner.scan(eager);
    if (deferred.length > 0) this.#scanSoon(DEFERRED_MS);
    this.#armRescan();
  }

  #scanSoon(ms: number): void {
    if (this.#soon !== undefined || this.#stopping) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.scan(false);
    }, ms);
  }

  /**
   * Arm the next full scan: 5 s (0.76) when directory events may be missing (no watcher, or a
   * network/FUSE file system) or when something awaits a retry (a failed or ended supervisor,
   * a warning); otherwise only a 10-minute safety scan, so an idle svscan does not wake up.
   * Each wake-up of a Deno process costs ~3 ms of CPU (docs/svscan.md).
   */
  #armRescan(): void {
    if (this.#stopping) return;
    const quick = !this.#watcher || !this.#reliable || this.scanner.unsettled;
    const ms = quick ? RESCAN_MS : SAFETY_MS;
    const at = performance.now() + ms;
    if (this.#rescan !== undefined) {
      if (this.#rescanAt <= at) return;
      clearTimeout(this.#rescan);
    }
    this.#rescanAt = at;
    this.#rescan = setTimeout(() => {
      this.#rescan = undefined;
      this.#rescanAt = Infinity;
      this.scan(true);
    }, ms);
  }

  #watch(): void {
    try {
      this.#watcher = Deno.watchFs(".", { recursive: false });
    } catch {
      return; // no events here: the 5-second scan does the work
    }
    const w = this.#watcher;
    (async () => {
      try {
        for await (const _ev of w) this.#scanSoon(1);
      } catch {
        // watcher failed
      }
      // closed or failed: back to 0.76's 5-second scans
      this.#watcher = undefined;
      this.#armRescan();
    })();
  }

  run(): void {
    const stop = () => this.shutdown();
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
    try {
      Deno.addSignalListener("SIGPWR" as Deno.Signal, stop);
    } catch {
      // not offered on this platform
    }
    Deno.addSignalListener("SIGHUP", () => this.scan(true));
    if (this.#pid1) Deno.addSignalListener("SIGCHLD", () => this.#reapOrphans());
    this.#watch();
    this.scan(true);
  }

  /** As pid 1: reap zombies that are not ours to watch (services are reaped by pid). */
  #reapOrphans(): void {
    const ours = new Set<number>();
    for (const e of this.scanner.entries.values()) {
      if (e.main?.pid) ours.add(e.main.pid);
      if (e.log?.pid) ours.add(e.log.pid);
    }
    const st = new Int32Array(1);
    for (const d of Deno.readDirSync("/proc")) {
      const pid = Number(d.name);
      if (!Number.isInteger(pid) || pid <= 1 || ours.has(pid)) continue;
      try {
        const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
        const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
        if (f[0] === "Z" && f[1] === "1") libc().waitpid(pid, st, WNOHANG);
      } catch {
        // gone meanwhile
      }
    }
  }

  // ------------------------------------------------------------------ shutdown

  /** TERM/INT: `svc -dx` every service, each logger after its service, then exit 0. */
  shutdown(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#rescan !== undefined) clearTimeout(this.#rescan);
    if (this.#soon !== undefined) clearTimeout(this.#soon);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    setTimeout(() => this.#killAll(), STOP_TIMEOUT_MS);
    for (const e of [...this.scanner.entries.values()]) {
      if (e.main) (e.main as Service).control("dx");
      this.#shutdownStep(e);
    }
    if (!this.#running()) this.#exit(); // nothing was running at all
  }

  #running(): boolean {
    for (const e of this.scanner.entries.values()) if (e.main || e.log) return true;
    return false;
  }

  /**
   * Move one entry along: once its service is gone, close svscan's write end of the pipe and
   * tell the logger to exit when its child does (it reads to EOF, so every line gets
   * written); once both are gone, the entry is done. Exit when no entry is left.
   */
  #shutdownStep(e: Entry): void {
    const entries = this.scanner.entries;
    if (!e.main) {
      if (e.pipe) closeWriteEnd(e.pipe);
      if (e.log) (e.log as Service).control("x");
    }
    if (!e.main && !e.log) {
      dropEntry(e);
      entries.delete(`${e.dev}:${e.ino}`);
    }
    if (!this.#running()) this.#exit();
  }

  #killAll(): void {
    for (const e of this.scanner.entries.values()) {
      for (const s of [e.main, e.log] as (Service | undefined)[]) {
        if (!s) continue;
        if (s.pid) libc().kill(s.pid, SIGKILL);
        s.control("dx");
      }
    }
    // whatever still does not end (unkillable, D state) is left behind
    setTimeout(() => this.#exit(), 1000);
  }

  #exited = false;
  #exit(): void {
    if (this.#exited) return;
    this.#exited = true;
    for (const e of this.scanner.entries.values()) {
      if (e.pipe) closeLogPipe(e.pipe, !e.main && !e.log);
    }
    Deno.exit(0);
  }
}

/** Entry point: runs until TERM/INT (or forever). */
export function main(args: string[]): void {
  leanHeap();
  const dir = args[0];
  if (dir !== undefined) {
    try {
      Deno.chdir(dir);
    } catch (e) {
      die(`unable to chdir to ${dir}: ${errorStr(errnoOf(e))}`);
    }
  }
  // a stop signal from the moment the lock may exist: nothing is supervised yet, so exit 0
  const early = () => Deno.exit(0);
  const stops: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGPWR" as Deno.Signal];
  const installed = stops.filter((sig) => {
    try {
      Deno.addSignalListener(sig, early);
      return true;
    } catch {
      return false; // not offered on this platform
    }
  });
  const fifos = guard(dir ?? ".");
  const scanner = new SvScan(fifos);
  // same tick: a signal that arrived meanwhile is dispatched to run()'s listeners
  for (const sig of installed) Deno.removeSignalListener(sig, early);
  scanner.run();
}
