/**
 * The supervise state machine of daemontools 0.76 (src/supervise.c), with no I/O:
 * events go in ({@linkcode Machine.boot}, {@linkcode Machine.run},
 * {@linkcode Machine.spawned}, {@linkcode Machine.exited}, {@linkcode Machine.control},
 * {@linkcode Machine.timer}), a list of {@linkcode Action}s comes out for the driver
 * (lib/service.ts) to perform in order. Time comes from an injected {@linkcode Clock},
 * so unit tests drive it with a fake one.
 *
 * Differences from 0.76's single-threaded loop, all keeping its observable contract:
 * - 0.76 sleeps one second after every start without reading the control FIFO. Here control
 *   bytes are handled at once, and only the *next start* waits until one second after the
 *   previous one (a `timer` action). A child that exits within that second is reported (status
 *   down, restart) when the second is over, as 0.76 reaps it only then; meanwhile its pid stays
 *   in the status and no signal is sent to it (the driver has reaped it already).
 * - A fork failure makes 0.76 sleep 60 s and (Debian patch 0003) retry. Here the retry is a
 *   timer 60 s later; control bytes are still handled meanwhile.
 *
 * Beyond 0.76 (s6's service-directory files, read by the driver and handed in with
 * {@linkcode Machine.configure}; docs/lifecycle.md). With {@linkcode PLAIN} (no such file) none
 * of this happens and the actions are 0.76's:
 * - readiness: {@linkcode Machine.ready} marks the running pid ready (an `extra` action);
 *   readiness ends with the process.
 * - `d` sends the configured down signal (then CONT); with `timeout-kill`, a `deadline` then
 *   KILLs the process (its group if it leads one) if it is still there.
 * - after `./run` ends (and is reported), a `finish` action runs `./finish`; the next start,
 *   or the exit after `x`, waits for it ({@linkcode Machine.finishExited}); `timeout-finish`
 *   KILLs it; exit code 125 sets the want to down.
 * - `restart-backoff`: a run shorter than a second doubles the pause before the next start
 *   (1 s, 2 s, 4 s ... up to the maximum, counted from the previous start); a longer run
 *   resets it.
 * - An extension: the machine keeps an exit history ({@linkcode History}, lib/history.ts:
 *   starts, the last exit's code or signal and time). A `status` action carries it whenever
 *   it changed, for the driver to write as `supervise/history`; the 18-byte status is 0.76's.
 *   The exit time is when the driver reported the exit, even when its report to the status
 *   waits for the end of the start's second.
 * @module
 */
import { SIGALRM, SIGCONT, SIGHUP, SIGINT, SIGKILL, SIGSTOP, SIGTERM } from "./libc.ts";
import { encodeExtra } from "./extra_status.ts";
import { type Lifecycle, PLAIN } from "./lifecycle.ts";
import { encodeStatus, type Want } from "./status.ts";
import { type Exit, exitOf, type History, type HistoryRead } from "./history.ts";
import { type Tai64n, unixSeconds } from "./tai64n.ts";

/** Minimum time between two starts of `./run` (0.76: `deepsleep(1)` after each start). */
export const START_INTERVAL_MS = 1000;
/** Pause after a fork failure before retrying (0.76 + Debian patch 0003). */
export const FORK_RETRY_MS = 60_000;

/** Time source: a monotonic clock for throttles and the wall clock for status stamps. */
export interface Clock {
  /** Monotonic milliseconds. */
  mono(): number;
  /** Wall-clock TAI64N label (0.76: microsecond precision). */
  stamp(): Tai64n;
}

/**
 * What the driver must do, in order. A `spawn` is always the last action of a batch: the
 * driver performs it and feeds the result back (`spawned`/`spawnFailed`) before anything else.
 */
export type Action =
  /** posix_spawn `./run`, then report the result with `spawned` or `spawnFailed`. */
  | { type: "spawn" }
  /**
   * kill(pid, sig): the single child only, except with `group` (a KILL after a timeout): then
   * its whole process group when it leads one (pgid = pid), else the process alone.
   */
  | { type: "kill"; pid: number; signal: number; group?: boolean }
  /** posix_spawn `./finish CODE SIGNAL`; report with `finishSpawned` or `finishFailed`. */
  | { type: "finish"; code: number; signal: number }
  /** Write these bytes as `supervise/extra` (extra.new + rename; lib/extra_status.ts). */
  | { type: "extra"; bytes: Uint8Array }
  /** Call `deadline()` at this monotonic time (replaces any earlier one); undefined cancels. */
  | { type: "deadline"; at: number | undefined }
  /**
   * Write these 18 bytes as `supervise/status` (status.new + rename); with `history` (only
   * when it changed), write that first as `supervise/history` (lib/history.ts).
   */
  | { type: "status"; bytes: Uint8Array; history?: History }
  /** Call `timer()` at this monotonic time (replaces any earlier timer); undefined cancels. */
  | { type: "timer"; at: number | undefined }
  /** Print a warning (text after `supervise: warning: `). */
  | { type: "warn"; text: string }
  /** Supervision is over (after `x` and the child is gone): release everything. */
  | { type: "exit" };

/** The signals the machine emits (numbers from lib/libc.ts). */
export const SIG = {
  HUP: SIGHUP,
  INT: SIGINT,
  KILL: SIGKILL,
  ALRM: SIGALRM,
  TERM: SIGTERM,
  CONT: SIGCONT,
  STOP: SIGSTOP,
} as const;

/** The control letters that only send the running process a signal (0.76's a h k t i). */
const SIGNAL_OF: Record<string, number> = {
  a: SIG.ALRM,
  h: SIG.HUP,
  k: SIG.KILL,
  t: SIG.TERM,
  i: SIG.INT,
};

/** A snapshot of the machine's state, for tests and svscan. */
export interface MachineState {
  pid: number;
  want: Want;
  paused: boolean;
  stamp: Tai64n;
  exitRequested: boolean;
  /** Monotonic time of the last start attempt (undefined before the first). */
  lastStart: number | undefined;
  /** A start is wanted but waits for the throttle or the fork-failure pause. */
  startPending: boolean;
  /** The child has exited within a second of its start; reported when the second is over. */
  exitPending: boolean;
  /** No start before this monotonic time (fork-failure pause). */
  retryAt: number;
  finished: boolean;
  /** Wall-clock time the running pid reported readiness (undefined: not ready). */
  ready: Tai64n | undefined;
  /** pid of `./finish` while it runs, else 0. */
  finishPid: number;
  /** Current crash-loop pause in ms (0: none; `restart-backoff` only). */
  backoff: number;
  /** The exit history (a copy). */
  history: History;
}

/** One supervised service's state machine. */
export class Machine {
  #clock: Clock;
  #dir: string;
  #pid = 0;
  #want: Want;
  #paused = false;
  #stamp: Tai64n;
  #exit = false;
  #lastStart: number | undefined = undefined;
  #pending = false;
  #retryAt = -Infinity;
  #timerAt: number | undefined = undefined;
  #finished = false;
  #child = false; // the pid was spawned by us (not adopted)
  #gone = false; // the child exited within a second of its start: reported at the second
  #goneExit: Exit | null = null; // ... and how it ended
  #history: History;
  #historyChanged = true; // a fresh supervisor replaces any older history at its first status
  #out: Action[] = [];
  #cfg: Lifecycle = PLAIN;
  #ready: Tai64n | undefined = undefined;
  #finishPid = 0;
  #finishStamp: Tai64n | undefined = undefined;
  #deadlineAt: number | undefined = undefined;
  #backoff = 0;
  #runEnd = 0; // monotonic time the child was seen to exit
  #code = -1; // its exit code (256: killed by a signal; -1: unknown, e.g. adopted)
  #signal = 0;
  #extraOn = false; // an extra action was emitted: keep the file current

  /**
   * @param dir the service directory as messages print it
   * @param wantUp false when the `down` file exists
   */
  constructor(dir: string, wantUp: boolean, clock: Clock) {
    this.#dir = dir;
    this.#clock = clock;
    this.#want = wantUp ? "u" : "d";
    this.#stamp = clock.stamp();
    this.#history = { since: this.#unixNow(), starts: 0, lastExit: null, ready: null };
  }

  /** Current state (a copy). */
  get state(): MachineState {
    return {
      pid: this.#pid,
      want: this.#want,
      paused: this.#paused,
      stamp: this.#stamp,
      exitRequested: this.#exit,
      lastStart: this.#lastStart,
      startPending: this.#pending,
      exitPending: this.#gone,
      retryAt: this.#retryAt,
      finished: this.#finished,
      ready: this.#ready,
      finishPid: this.#finishPid,
      backoff: this.#backoff,
      history: copyHistory(this.#history),
    };
  }

  /** Take the lifecycle files' current meaning (read by the driver before an event). */
  configure(cfg: Lifecycle): void {
    this.#cfg = cfg;
  }

  /** pid of `./run`, 0 when down. */
  get pid(): number {
    return this.#pid;
  }

  /** True once supervision has ended (the `exit` action was emitted). */
  get finished(): boolean {
    return this.#finished;
  }

  /** Start-up step 8: stamp now, pid 0, write the status. */
  boot(): Action[] {
    this.#pidchange();
    this.#announce();
    this.#extra();
    return this.#flush();
  }

  /**
   * Start-up step 10: start `./run` if wanted, then enter the loop (status written).
   * `adoptPid` adopts a process already running (svscan restarted): no start; `stamp` and
   * `paused` come from its old status file when known, and the history is carried on from
   * `history` (the old `supervise/history`; fields it lacks stay this machine's).
   */
  run(
    adoptPid = 0,
    stamp?: Tai64n,
    paused = false,
    ready?: Tai64n,
    history?: HistoryRead,
  ): Action[] {
    if (adoptPid > 0) {
      if (history) {
        const h = this.#history;
        this.#history = {
          since: history.since ?? h.since,
          starts: history.starts ?? h.starts,
          lastExit: history.lastExit,
          ready: history.ready,
        };
      }
      // the driver drops boot()'s actions when adopting: the history goes with this status
      this.#historyChanged = true;
      this.#child = false;
      this.#pid = adoptPid;
      this.#paused = paused;
      this.#ready = ready;
      if (ready) this.#extra();
      if (stamp) this.#stamp = stamp;
      else this.#pidchange();
    } else if (this.#want !== "d") this.#tryStart();
    // a spawn ends the batch: spawned() writes the status (0.76 writes it twice)
    if (!this.#out.some((a) => a.type === "spawn")) this.#announce();
    return this.#flush();
  }

  /** The spawn action succeeded. */
  spawned(pid: number): Action[] {
    this.#lastStart = this.#clock.mono(); // the second counts from the spawn's return
    this.#history.starts++;
    this.#historyChanged = true;
    this.#child = true;
    this.#paused = false;
    this.#pid = pid;
    this.#pidchange();
    this.#announce();
    return this.#flush();
  }

  /**
   * The spawn action failed. `fork` = the process could not be created (EAGAIN/ENOMEM):
   * warn, retry in 60 s. Otherwise exec failed: 0.76's child would have printed its fatal
   * message and exited 111 at once, so this counts as a start immediately followed by an exit
   * (the driver prints the message; the status shows the service down with a fresh stamp):
   * the next start follows 0.76's pause, or `restart-backoff`'s for a run shorter than a
   * second. `./finish` is not run (s6-supervise runs it only after a ./run that ran).
   */
  spawnFailed(fork: boolean, errText: string): Action[] {
    if (fork) {
      this.#out.push({
        type: "warn",
        text: `unable to fork for ${this.#dir}, sleeping 60 seconds: ${errText}`,
      });
      this.#retryAt = this.#clock.mono() + FORK_RETRY_MS;
      this.#lastStart = undefined;
      this.#pending = false;
      if (!this.#exit && this.#want === "u") this.#tryStart();
      return this.#flush();
    }
    this.#lastStart = this.#clock.mono();
    this.#runEnd = this.#lastStart; // a run of no time: restart-backoff counts it
    this.#history.starts++;
    this.#history.lastExit = { code: 111, signal: null, time: this.#unixNow() };
    this.#historyChanged = true;
    this.#paused = false;
    this.#pid = 0;
    this.#pidchange();
    // 0.76 writes the status twice per failed start (its child's pid, then down): keep the
    // count so status warnings repeat as often
    this.#announce();
    this.#announce();
    // no ./finish: as s6-supervise, it follows only a ./run that ran (docs/lifecycle.md)
    this.#updateBackoff();
    this.#afterExit();
    return this.#flush();
  }

  /**
   * The child `pid` was reaped. `wstatus` (wait4's; undefined when not known: an adopted
   * process, watched through a pidfd) goes to the history and to `./finish` (as its exit code,
   * 256 when killed by a signal, -1 unknown, and the signal); 0.76 ignores it.
   */
  exited(pid: number, wstatus?: number): Action[] {
    if (pid !== this.#pid || pid === 0 || this.#gone) return [];
    this.#runEnd = this.#clock.mono();
    const time = this.#unixNow();
    const exit = (wstatus === undefined ? undefined : exitOf(wstatus, time)) ??
      { code: null, signal: null, time };
    this.#code = exit.signal !== null ? 256 : exit.code ?? -1;
    this.#signal = exit.signal ?? 0;
    const settle = this.#lastStart === undefined ? -Infinity : this.#lastStart + START_INTERVAL_MS;
    if (this.#child && this.#clock.mono() < settle) {
      // 0.76 reaps only after the second that follows a start: until then the status keeps
      // showing the pid (svstat: "up"), as Debian's does for a run that exits at once
      this.#gone = true;
      this.#goneExit = exit;
      this.#setTimer(settle);
      return this.#flush();
    }
    return this.#reaped(exit);
  }

  #reaped(exit: Exit | null): Action[] {
    this.#gone = false;
    this.#goneExit = null;
    if (exit) {
      this.#history.lastExit = exit;
      this.#historyChanged = true;
    }
    if (this.#history.ready !== null) {
      this.#history.ready = null; // readiness ends with the process
      this.#historyChanged = true;
    }
    this.#pid = 0;
    this.#ready = undefined;
    this.#setDeadline(undefined);
    this.#pidchange();
    this.#updateBackoff();
    if (this.#cfg.finish) {
      // the status shows down once ./finish is known to run (svwait -D never sees a gap)
      this.#out.push({ type: "finish", code: this.#code, signal: this.#signal });
      return this.#flush();
    }
    this.#announce();
    this.#extra();
    this.#afterExit();
    return this.#flush();
  }

  #updateBackoff(): void {
    const max = this.#cfg.backoffMax;
    if (max === undefined || this.#lastStart === undefined) {
      this.#backoff = 0;
      return;
    }
    const ran = this.#runEnd - this.#lastStart;
    if (ran >= START_INTERVAL_MS) this.#backoff = 0;
    else this.#backoff = Math.min(this.#backoff ? this.#backoff * 2 : START_INTERVAL_MS, max);
  }

  /** `./finish` was started as `pid`: `timeout-finish` counts from now. */
  finishSpawned(pid: number): Action[] {
    this.#finishPid = pid;
    this.#finishStamp = this.#clock.stamp();
    if (this.#cfg.timeoutFinish > 0) {
      this.#setDeadline(this.#clock.mono() + this.#cfg.timeoutFinish);
    }
    this.#extra();
    this.#announce();
    return this.#flush();
  }

  /** `./finish` could not be started (the driver warns): carry on as if it had ended. */
  finishFailed(): Action[] {
    this.#announce();
    this.#extra();
    this.#afterExit();
    return this.#flush();
  }

  /** `./finish` (`pid`) ended with exit `code` (125: do not restart; -1 / 256: none). */
  finishExited(pid: number, code: number): Action[] {
    if (pid !== this.#finishPid || pid === 0) return [];
    this.#finishPid = 0;
    this.#finishStamp = undefined;
    this.#setDeadline(undefined);
    if (code === 125 && this.#want !== "d") {
      this.#want = "d";
      this.#announce();
    }
    this.#extra();
    this.#afterExit();
    return this.#flush();
  }

  /** The running pid said it is ready (first newline on the notification pipe). */
  ready(pid: number): Action[] {
    if (pid !== this.#pid || pid === 0 || this.#gone || this.#ready) return [];
    this.#ready = this.#clock.stamp();
    this.#extra();
    // the history records when (with the status, unchanged, it goes with)
    this.#history.ready = this.#unixNow();
    this.#historyChanged = true;
    this.#announce();
    return this.#flush();
  }

  /** The time set by a `deadline` action came: KILL what overstayed. */
  deadline(): Action[] {
    this.#deadlineAt = undefined;
    if (this.#finishPid) {
      this.#out.push({ type: "kill", pid: this.#finishPid, signal: SIG.KILL, group: true });
    } else if (this.#pid && !this.#gone) {
      this.#out.push({ type: "kill", pid: this.#pid, signal: SIG.KILL, group: true });
    }
    return this.#flush();
  }

  /** The timer set by a `timer` action fired. */
  timer(): Action[] {
    this.#timerAt = undefined;
    if (this.#gone) return this.#reaped(this.#goneExit);
    if (this.#pending) {
      this.#pending = false;
      if (!this.#pid && !this.#exit) this.#tryStart();
    }
    return this.#flush();
  }

  /** One control byte (unknown bytes are ignored). */
  control(byte: number): Action[] {
    if (this.#finished) return [];
    const pid = this.#pid;
    switch (String.fromCharCode(byte)) {
      case "d":
        this.#want = "d";
        this.#cancelStart();
        if (pid) {
          this.#kill(this.#cfg.downSignal);
          this.#kill(SIG.CONT);
          this.#paused = false;
          if (this.#cfg.timeoutKill > 0 && !this.#gone && this.#deadlineAt === undefined) {
            this.#setDeadline(this.#clock.mono() + this.#cfg.timeoutKill);
          }
        }
        this.#announce();
        break;
      case "u":
        this.#want = "u";
        this.#announce();
        if (!pid) this.#tryStart();
        break;
      case "o":
        this.#want = 0;
        this.#announce();
        if (!pid) this.#tryStart();
        break;
      case "a":
      case "h":
      case "k":
      case "t":
      case "i":
        if (pid) this.#kill(SIGNAL_OF[String.fromCharCode(byte)]);
        break;
      case "p":
        this.#paused = true;
        this.#announce();
        if (pid) this.#kill(SIG.STOP);
        break;
      case "c":
        this.#paused = false;
        this.#announce();
        if (pid) this.#kill(SIG.CONT);
        break;
      case "x":
        this.#exit = true;
        this.#cancelStart();
        this.#announce();
        break;
    }
    this.#checkExit();
    return this.#flush();
  }

  #afterExit(): void {
    if (this.#exit) this.#checkExit();
    else if (this.#want === "u") this.#tryStart();
  }

  /**
   * 0.76 trystart(), throttled: starts stay >= 1 s apart (or the back-off apart), and 60 s
   * after a fork failure; none while `./finish` runs (its end starts again).
   */
  #tryStart(): void {
    if (this.#pid || this.#exit || this.#finishPid) return;
    const now = this.#clock.mono();
    const gap = Math.max(START_INTERVAL_MS, this.#backoff);
    const at = Math.max(
      this.#lastStart === undefined ? -Infinity : this.#lastStart + gap,
      this.#retryAt,
    );
    if (now < at) {
      this.#pending = true;
      this.#setTimer(at);
      return;
    }
    this.#pending = false;
    this.#setTimer(undefined);
    this.#lastStart = now;
    this.#out.push({ type: "spawn" });
  }

  #cancelStart(): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#setTimer(undefined);
  }

  #setTimer(at: number | undefined): void {
    if (at === this.#timerAt) return;
    this.#timerAt = at;
    this.#out.push({ type: "timer", at });
  }

  #setDeadline(at: number | undefined): void {
    if (at === this.#deadlineAt) return;
    this.#deadlineAt = at;
    this.#out.push({ type: "deadline", at });
  }

  /** Write `supervise/extra` when the service uses lifecycle files (or did). */
  #extra(): void {
    if (!this.#extraOn && this.#cfg.notifyFd === undefined && !this.#cfg.finish) return;
    this.#extraOn = true;
    this.#out.push({
      type: "extra",
      bytes: encodeExtra({
        ready: this.#ready && this.#pid ? { pid: this.#pid, stamp: this.#ready } : undefined,
        finish: this.#finishPid && this.#finishStamp
          ? { pid: this.#finishPid, stamp: this.#finishStamp }
          : undefined,
      }),
    });
  }

  #checkExit(): void {
    if (!this.#exit || this.#pid || this.#finishPid || this.#finished) return;
    this.#finished = true;
    this.#cancelStart();
    this.#announce();
    this.#out.push({ type: "exit" });
  }

  #kill(signal: number): void {
    if (this.#gone) return; // already reaped: its pid may be reused
    this.#out.push({ type: "kill", pid: this.#pid, signal });
  }

  #pidchange(): void {
    this.#stamp = this.#clock.stamp();
  }

  #announce(): void {
    const bytes = encodeStatus({
      stamp: this.#stamp,
      pid: this.#pid,
      paused: this.#paused,
      want: this.#want,
    });
    if (!this.#historyChanged) {
      this.#out.push({ type: "status", bytes });
      return;
    }
    this.#historyChanged = false;
    this.#out.push({ type: "status", bytes, history: copyHistory(this.#history) });
  }

  #unixNow(): number {
    const t = this.#clock.stamp();
    return Number(unixSeconds(t)) + t.nano / 1e9;
  }

  #flush(): Action[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

function copyHistory(h: History): History {
  return { ...h, lastExit: h.lastExit ? { ...h.lastExit } : null };
}
