/**
 * The svscan process around the scan: {@linkcode SvScan} hosts every supervisor (one
 * {@linkcode Service} per service directory and per `log/`, all on the process's reactor),
 * schedules the scans (directory events, quick looks at half-made directories, 0.76's
 * 5-second rescan or a 10-minute safety rescan), handles the signals (TERM/INT/PWR: orderly
 * stop; HUP: rescan; as pid 1 SIGCHLD: reap orphans) and stops in order: services first, each
 * logger once its service is gone and the pipe is drained, then exit 0. {@linkcode serve}
 * starts it all in the current directory.
 *
 * With `.svscan-metrics` in the directory, svscan keeps a Prometheus metrics file current
 * (lib/svstat/metrics.ts): rewritten after every status write of a service and after every
 * scan, never on a timer.
 * @module
 */
import { SIGKILL } from "../libc.ts";
import { writeErr } from "../msg.ts";
import { reactor, type TimerHandle } from "../reactor.ts";
import { Service, ServiceError } from "../service.ts";
import { currentEnv } from "../spawn.ts";
import { isDir, stat } from "../stat.ts";
import { NR, sys } from "../sys.ts";
import { adoptable } from "./adopt.ts";
import { MetricsFile, type Source } from "../svstat/metrics.ts";
import { type DirWatch, eventsReliable, watchDir } from "./events.ts";
import { guard } from "./guard.ts";
import { hostLogger } from "./hostlog.ts";
import { closeLogPipe, closeWriteEnd, serviceEnd } from "./pipe.ts";
import { reapOrphans } from "./reaper.ts";
import { dropEntry, type Entry, entryKey, type ScanHost, Scanner } from "./scan.ts";

/** 0.76 sleeps 5 seconds between scans (kept when events may be missing or a retry waits). */
const RESCAN_MS = 5000;
/** With reliable directory events and nothing pending: a safety scan this rarely (10 min). */
const SAFETY_MS = 600_000;
/** While a new directory waits for its `run`, look again this often. */
const DEFERRED_MS = 50;
/** After a directory event, scan this soon (events come in bursts). */
const EVENT_MS = 1;
/** Orderly shutdown: after this, every process still running gets SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** ... and svscan exits this long after the SIGKILLs, whatever is left. */
const KILL_GRACE_MS = 1000;

/** The signals that stop svscan in order (PWR: a container's stop signal). */
const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGPWR"] as Deno.Signal[];

/** An entry of svscan's table: its supervisors are {@linkcode Service}s. */
export type SvEntry = Entry<Service>;

/** svscan itself: the scanner, its timers, the watcher, signals and shutdown. */
export class SvScan implements ScanHost<Service> {
  readonly fifos: boolean;
  readonly scanner: Scanner<Service>;
  #reactor = reactor();
  #rescan: TimerHandle | undefined;
  #rescanAt = Infinity;
  #soon: TimerHandle | undefined;
  #watcher: DirWatch | undefined;
  #stopping = false;
  #pid1: boolean;
  #reliable: boolean;
  /** The metrics file (when `.svscan-metrics` is there): every directory, in scan order. */
  #metrics = new MetricsFile(() => this.#metricSources());
  /** Every service's environment: the caller's, taken once (encoded once: lib/spawn.ts). */
  #env = currentEnv();
  /** `/proc/PID/fd` when /proc is there (see Entry.fd), else "". */
  #procFd = ((p) => {
    const st = stat(p);
    return typeof st !== "number" && isDir(st.mode) ? p : "";
  })(`/proc/${Deno.pid}/fd`);

  /** `fifos`: named log pipes may be made (the state directory is there). */
  constructor(fifos: boolean) {
    this.fifos = fifos;
    this.#reliable = eventsReliable(".");
    this.scanner = new Scanner(this);
    this.#pid1 = sys(NR.getpid) === 1;
  }

  #log = (line: string): void => writeErr(line);

  /** Where entry `e`'s files are reached (follows a renamed directory: see Entry.fd). */
  #base(e: SvEntry): string {
    return e.fd >= 0 && this.#procFd ? `${this.#procFd}/${e.fd}` : e.name;
  }

  #metricSources(): Source[] {
    const out: Source[] = [];
    for (const e of this.scanner.entries.values()) {
      const base = this.#base(e);
      out.push([e.name, `${base}/`]);
      if (e.hasLog) out.push([`${e.name}/log`, `${base}/log/`]);
    }
    return out;
  }

  #supervise(e: SvEntry, main: boolean): Service | undefined {
    const base = this.#base(e);
    const path = main ? base : `${base}/log`;
    const svc = new Service(main ? e.name : "log", {
      reactor: this.#reactor,
      path,
      stdin: main ? undefined : e.pipe?.r,
      stdout: main && e.pipe ? serviceEnd(e.pipe) : undefined,
      log: this.#log,
      onExit: (s) => this.#ended(e, s),
      onChange: () => this.#metrics.changed(),
      env: this.#env,
      host: main || !e.pipe
        ? undefined
        : (exited) =>
          hostLogger({ reactor: this.#reactor, path, pipe: e.pipe!.r, env: this.#env }, exited),
    });
    try {
      const pid = adoptable(`${path}/supervise/status`);
      // a hosted logger's status names svscan: a previous svscan is gone, this one is not ours
      if (pid && pid !== Deno.pid) svc.adopt(pid);
      else svc.start();
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      writeErr(err.line);
      return undefined;
    }
    return svc;
  }

  /** {@inheritDoc ScanHost.startMain} (nothing once stopping). */
  startMain(e: SvEntry): Service | undefined {
    if (this.#stopping) return undefined;
    return this.#supervise(e, true);
  }

  /** {@inheritDoc ScanHost.startLog} (nothing once stopping). */
  startLog(e: SvEntry): Service | undefined {
    if (this.#stopping) return undefined;
    return this.#supervise(e, false);
  }

  /** A supervisor ended (`svc -x`, or shutdown): 0.76 restarts it at the next scan. */
  #ended(e: SvEntry, s: Service): void {
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
    this.#metrics.rescanned();
    if (deferred.length > 0) this.#scanSoon(DEFERRED_MS);
    this.#armRescan();
  }

  #scanSoon(ms: number): void {
    if (this.#soon !== undefined || this.#stopping) return;
    this.#soon = this.#reactor.at(performance.now() + ms, () => {
      this.#soon = undefined;
      this.scan(false);
    });
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
    const at = performance.now() + (quick ? RESCAN_MS : SAFETY_MS);
    if (this.#rescan !== undefined) {
      if (this.#rescanAt <= at) return;
      this.#rescan.cancel();
    }
    this.#rescanAt = at;
    this.#rescan = this.#reactor.at(at, () => {
      this.#rescan = undefined;
      this.#rescanAt = Infinity;
      this.scan(true);
    });
  }

  #watch(): void {
    this.#watcher = watchDir(".", () => this.#scanSoon(EVENT_MS), () => {
      // closed or failed: back to 0.76's 5-second scans
      this.#watcher = undefined;
      this.#armRescan();
    });
  }

  /** Install the signal handlers, the directory watch, and scan. */
  run(): void {
    const stop = () => this.shutdown();
    for (const sig of STOP_SIGNALS) {
      try {
        Deno.addSignalListener(sig, stop);
      } catch {
        // not offered on this platform
      }
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
    reapOrphans(ours);
  }

  // ------------------------------------------------------------------ shutdown

  /** TERM/INT: `svc -dx` every service, each logger after its service, then exit 0. */
  shutdown(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#rescan?.cancel();
    this.#soon?.cancel();
    this.#watcher?.close();
    this.#reactor.at(performance.now() + STOP_TIMEOUT_MS, () => this.#killAll());
    for (const e of [...this.scanner.entries.values()]) {
      e.main?.control("dx");
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
  #shutdownStep(e: SvEntry): void {
    if (!e.main) {
      if (e.pipe) closeWriteEnd(e.pipe);
      e.log?.control("x");
    }
    if (!e.main && !e.log) {
      dropEntry(e);
      this.scanner.entries.delete(entryKey(e.dev, e.ino));
    }
    if (!this.#running()) this.#exit();
  }

  #killAll(): void {
    for (const e of this.scanner.entries.values()) {
      for (const s of [e.main, e.log]) {
        if (!s) continue;
        if (s.hosted) s.control("k"); // a hosted logger: never signal our own pid
        else if (s.pid) sys(NR.kill, s.pid, SIGKILL);
        if (s.finishPid) sys(NR.kill, s.finishPid, SIGKILL);
        s.control("dx");
      }
    }
    // whatever still does not end (unkillable, D state) is left behind
    this.#reactor.at(performance.now() + KILL_GRACE_MS, () => this.#exit());
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

/**
 * svscan in the current directory (printed as `label`): the misuse guard, then scan and
 * supervise until stopped. A stop signal that arrives before the first scan exits 0 at once
 * (nothing is supervised yet).
 */
export function serve(label: string): void {
  // a stop signal from the moment the lock may exist: nothing is supervised yet, so exit 0
  const early = () => Deno.exit(0);
  const installed = STOP_SIGNALS.filter((sig) => {
    try {
      Deno.addSignalListener(sig, early);
      return true;
    } catch {
      return false; // not offered on this platform
    }
  });
  const fifos = guard(label);
  const svscan = new SvScan(fifos);
  // same tick: a signal that arrived meanwhile is dispatched to run()'s listeners
  for (const sig of installed) Deno.removeSignalListener(sig, early);
  svscan.run();
}
