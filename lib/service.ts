/**
 * One supervised service directory: binds a {@linkcode Machine} (lib/supervisor.ts) to the
 * files of daemontools 0.76's supervise (spec §1–§2) and to a shared {@linkcode Reactor}.
 * Many services can live in one process (svscan); `supervise DIR` is one of them.
 *
 * Per service: the lock fd, both ends of `supervise/control`, the `ok` reader and, while the
 * child runs, a pidfd, all in the reactor's epoll set; one timer entry only while a start
 * waits for the 1-second throttle. No per-service JS timers or pending reads.
 *
 * Lifecycle files (lib/lifecycle.ts, docs/lifecycle.md) are re-read before each event that
 * uses them (a start, an exit, a control byte); a warning is printed when a file's content
 * changes to something unusable. While `./run` has a readiness pipe, its read end is in the
 * reactor too; `./finish` is watched through a pidfd like `./run`.
 *
 * Usage:
 * ```ts
 * const svc = new Service("web", { reactor: reactor(), log: (line) => writeErr(line) });
 * try { svc.start(); } catch (e) { if (e instanceof ServiceError) writeErr(e.line); }
 * svc.control("dx");          // svscan's orderly shutdown
 * await svc.done;             // supervision over, child gone
 * ```
 * @module
 */
import { cat, cstr, decode, encode } from "./bytes.ts";
import { EAGAIN, ECHILD, EEXIST, ENOENT, ENOMEM, EPERM, errorStr } from "./errors.ts";
import { readExtra } from "./extra_status.ts";
import {
  type Lifecycle,
  type LifecycleFiles,
  parseLifecycle,
  PLAIN,
  readLifecycleFiles,
} from "./lifecycle.ts";
import { LOCK_EX, LOCK_NB, O_CLOEXEC, O_NONBLOCK, WNOHANG } from "./libc.ts";
import { procStat } from "./proc.ts";
import { line, sysText, type Text, writeErr } from "./msg.ts";
import { openAppend, openRead, openTrunc, openWrite } from "./open.ts";
import { type Reactor, reactor as sharedReactor, type TimerHandle } from "./reactor.ts";
import { spawn } from "./spawn.ts";
import { decodeStatus, STATUS_SIZE } from "./status.ts";
import { encodeHistory, type History, HISTORY_FILE, readHistory } from "./history.ts";
import { type Action, type Clock, Machine, type MachineState } from "./supervisor.ts";
import { isDir, lstat, S_IFIFO, S_IFLNK, S_IFMT, stat } from "./stat.ts";
import { addr, AT_FDCWD, NR, sys, sysAt, sysPath } from "./sys.ts";
import { now } from "./tai64n.ts";

/** A start-up failure: `line` is the exact `supervise: fatal: ...\n` text; exit code 111. */
export class ServiceError extends Error {
  /** The full message line, newline included. */
  readonly line: string;
  /** Exit code supervise uses for it. */
  readonly code = 111;
  constructor(text: Text) {
    const l = decode(line("supervise", "fatal", text));
    super(l.slice(0, -1));
    this.name = "ServiceError";
    this.line = l;
  }
}

/**
 * A child that runs inside this process instead of as a process of its own (svscan's hosted
 * loggers, lib/svscan/hostlog.ts). The state machine sees it as a process whose pid is
 * `pid` (the host's); every kill action for that pid goes to `signal`, never to the kernel.
 */
export interface HostedChild {
  /** the pid the status shows (the host's own) */
  readonly pid: number;
  /** begin running (after the machine has recorded the start) */
  start(): void;
  /** what the signal would do to the process this child stands for */
  signal(sig: number): void;
}

/** How a {@linkcode Service} is bound to its surroundings. */
export interface ServiceOptions {
  /** Event loop (default: the process-wide {@linkcode sharedReactor}). */
  reactor?: Reactor;
  /**
   * Where the directory really is, relative to the process cwd or absolute (default: the
   * display name). svscan passes `NAME/log` here with display name `log`.
   */
  path?: string;
  /**
   * chdir the whole process into the directory at start-up (standalone `supervise` only:
   * then every file is opened relative to it, exactly like 0.76, even if it is renamed).
   */
  chdir?: boolean;
  /** Descriptor the child gets as stdin / stdout (svscan's log pipe ends). */
  stdin?: number;
  stdout?: number;
  /**
   * Called after each write of `supervise/status` (every state change): svscan's metrics
   * file (lib/svstat/metrics.ts) follows it.
   */
  onChange?: (svc: Service) => void;
  /** Called once supervision is over (after `x`, the child gone, everything released). */
  onExit?: (svc: Service) => void;
  /** Sink for message lines (`supervise: warning: ...\n`); default: our stderr. */
  log?: (line: string) => void;
  /** Time source (tests). */
  clock?: Clock;
  /**
   * Environment of `./run`: `NAME=value` entries, raw bytes (strings are encoded losslessly),
   * passed as they are (default: lib/spawn.ts's `currentEnv()` at each start).
   */
  env?: readonly (string | Uint8Array)[];
  /**
   * Asked at each start of `./run`: a {@linkcode HostedChild} to run instead of spawning, or
   * undefined (spawn as usual). `exited(wstatus)` is to be called once when it has ended.
   */
  host?: (exited: (wstatus: number) => void) => HostedChild | undefined;
}

const ownPid = sys(NR.getpid);

const realClock: Clock = { mono: () => performance.now(), stamp: now };

/** mkfifo(path, 0600); the result is not needed (the open after it reports a problem). */
function mkfifo(path: string): void {
  sysAt(NR.mknodat, AT_FDCWD, path, S_IFIFO | 0o600, 0);
}

/** A supervised service directory. */
export class Service {
  /** The directory as messages print it. */
  readonly dir: string;
  /** Resolves when supervision is over (after `x` once the child is gone, or `close()`). */
  readonly done: Promise<void>;
  #opts: ServiceOptions;
  #reactor: Reactor;
  #root: string;
  #log: (line: string) => void;
  #machine: Machine | undefined;
  #fdLock = -1;
  #fdControl = -1;
  #fdControlWrite = -1;
  #fdOk = -1;
  #pidfd = -1;
  #childPid = 0; // our child not yet reaped (0: none, or adopted: no waitpid possible)
  #pollTimer: TimerHandle | undefined;
  #controlTimer: TimerHandle | undefined;
  #timer: TimerHandle | undefined;
  #closed = false;
  #resolve!: () => void;
  #wstat = new Int32Array(1);
  #chunk = new Uint8Array(64);
  #cfg: Lifecycle = PLAIN;
  #cfgSeen = "";
  #notifyFd = -1; // read end of the running child's readiness pipe
  #notifyPid = 0;
  #finishPid = 0;
  #finishPidfd = -1;
  #deadline: TimerHandle | undefined;
  #hosted: HostedChild | undefined; // the running hosted child (see ServiceOptions.host)

  /**
   * @param dir the service directory as daemontools prints it in messages
   * @param opts see {@linkcode ServiceOptions}
   */
  constructor(dir: string, opts: ServiceOptions = {}) {
    this.dir = dir;
    this.#opts = opts;
    this.#reactor = opts.reactor ?? sharedReactor();
    this.#root = opts.path ?? dir;
    this.#log = opts.log ?? writeErr;
    this.done = new Promise((r) => (this.#resolve = r));
  }

  /** pid of `./run` (0 when down). */
  get pid(): number {
    return this.#machine?.pid ?? 0;
  }

  /** True once supervision is over (or the service was closed). */
  get finished(): boolean {
    return this.#closed;
  }

  /** True while `./run` is a hosted child (its pid is this process's: never signal it). */
  get hosted(): boolean {
    return this.#hosted !== undefined;
  }

  /** pid of `./finish` while it runs (0: none). */
  get finishPid(): number {
    return this.#finishPid;
  }

  /** The state machine's state (undefined before `start()`). */
  get state(): MachineState | undefined {
    return this.#machine?.state;
  }

  /**
   * The start-up sequence of spec §1.1 in order: down file, `supervise/` (+ Debian's
   * dangling-symlink patch), lock, control FIFO, status, ok FIFO, then `./run` if wanted.
   * Throws {@linkcode ServiceError} (everything acquired so far released) on failure.
   */
  start(): void {
    this.#startup(0);
  }

  /**
   * Like {@linkcode start}, but `pid` (from the status file of a previous svscan) is taken as
   * the running `./run`: watched through a pidfd until it exits (no waitpid: it is not our
   * child), then supervision continues as usual. Its stamp and paused flag are kept when the
   * old status file names the same pid. A pid that no longer exists is ignored.
   */
  adopt(pid: number): void {
    this.#startup(pid);
  }

  /** Act on control bytes as if written to `supervise/control` (e.g. `"dx"`). */
  control(bytes: string | Uint8Array): void {
    const b = typeof bytes === "string" ? encode(bytes) : bytes;
    if (!this.#closed && this.#machine) this.#refresh();
    for (const byte of b) {
      if (this.#closed || !this.#machine) return;
      this.#reap();
      if (this.#closed) return;
      this.#apply(this.#machine.control(byte));
    }
  }

  /**
   * Release every fd, the lock and the timers; the child (if any) keeps running and is no
   * longer watched. `done` resolves; `onExit` is NOT called.
   */
  close(): void {
    this.#release();
  }

  // ---------------------------------------------------------------- start-up

  #p(name: string): string {
    return this.#root === "." ? name : `${this.#root}/${name}`;
  }

  #fail(text: Text): never {
    this.#release(false);
    throw new ServiceError(text);
  }

  #startup(adoptPid: number): void {
    if (this.#machine || this.#closed) throw new Error("service already started");
    const dir = this.dir;
    // 3. chdir (svscan's services stay where they are: the same checks, then paths under it)
    if (this.#opts.chdir) {
      const r = sysPath(NR.chdir, this.#root);
      if (r < 0) this.#fail(sysText(`unable to chdir to ${dir}`, -r));
      this.#root = ".";
    } else {
      const st = stat(this.#root);
      if (typeof st === "number") this.#fail(sysText(`unable to chdir to ${dir}`, -st));
      if (!isDir(st.mode)) this.#fail(`unable to chdir to ${dir}: not a directory`);
      const r = sysPath(NR.access, this.#root, 1 /* X_OK: what chdir needs */);
      if (r < 0) this.#fail(sysText(`unable to chdir to ${dir}`, -r));
    }
    // 4. down file
    const down = stat(this.#p("down"));
    const wantUp = typeof down === "number";
    if (typeof down === "number" && down !== -ENOENT) {
      this.#fail(sysText(`unable to stat ${dir}/down`, -down));
    }
    // 5. supervise/ (result ignored), Debian: create a dangling symlink's target
    this.#mkdirSupervise();
    // 6. lock
    this.#fdLock = openAppend(this.#p("supervise/lock"));
    const locked = this.#fdLock < 0 ? this.#fdLock : sys(NR.flock, this.#fdLock, LOCK_EX | LOCK_NB);
    if (locked < 0) this.#fail(sysText(`unable to acquire ${dir}/supervise/lock`, -locked));
    // 7. control FIFO: a reader, and a writer kept so it never reports EOF
    mkfifo(this.#p("supervise/control"));
    this.#fdControl = openRead(this.#p("supervise/control"));
    if (this.#fdControl < 0) {
      this.#fail(sysText(`unable to read ${dir}/supervise/control`, -this.#fdControl));
    }
    this.#fdControlWrite = openWrite(this.#p("supervise/control"));
    if (this.#fdControlWrite < 0) {
      this.#fail(sysText(`unable to write ${dir}/supervise/control`, -this.#fdControlWrite));
    }
    // an adopted process keeps its stamp: read the old status before anything overwrites it
    const old = adoptPid > 0 ? this.#readStatus() : undefined;
    const oldHistory = adoptPid > 0 ? readHistory(this.#p(`supervise/${HISTORY_FILE}`)) : undefined;
    let adopted = 0;
    if (adoptPid > 0) {
      const pfd = this.#reactor.watchPid(adoptPid, () => this.#onPidExit(adoptPid));
      if (pfd >= 0) {
        this.#pidfd = pfd;
        adopted = adoptPid;
      }
    }
    // 8. status (pid 0; skipped when adopting, so svstat never sees the service down meanwhile)
    const machine = new Machine(dir, wantUp, this.#opts.clock ?? realClock);
    this.#machine = machine;
    this.#refresh();
    // readiness survives a restart of svscan: the old extra file names the ready pid
    const oldExtra = adopted ? readExtra(this.#root) : undefined;
    const ready = oldExtra?.ready?.pid === adopted ? oldExtra.ready.stamp : undefined;
    const boot = machine.boot();
    if (!adopted) this.#apply(boot);
    // 9. ok FIFO (from here on svok succeeds)
    mkfifo(this.#p("supervise/ok"));
    this.#fdOk = openRead(this.#p("supervise/ok"));
    if (this.#fdOk < 0) {
      const e = -this.#fdOk;
      this.#machine = undefined;
      this.#fail(sysText(`unable to read ${dir}/supervise/ok`, e));
    }
    const err = this.#reactor.watch(this.#fdControl, () => this.#onControl());
    if (err === EPERM) this.#pollControl(); // `control` is a regular file: no readiness
    else if (err) {
      this.#machine = undefined;
      this.#fail(sysText(`unable to read ${dir}/supervise/control`, err));
    }
    // 10. start ./run (or take the adopted one) and enter the loop
    const same = old !== undefined && old.pid === adopted;
    this.#apply(
      machine.run(
        adopted,
        same ? old.stamp : undefined,
        same ? old.pausedByte !== 0 : false,
        same ? ready : undefined,
        adopted ? oldHistory : undefined,
      ),
    );
  }

  #mkdirSupervise(): void {
    const p = this.#p("supervise");
    if (sysPath(NR.mkdir, p, 0o700) !== -EEXIST) return;
    // ignored below, as 0.76 ignores mkdir's result: the lock step reports the problem
    const st = lstat(p);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFLNK) return;
    const target = new Uint8Array(4096);
    const n = sysPath(NR.readlink, p, addr(target), target.length);
    if (n <= 0) return;
    const t = target.subarray(0, n);
    sysPath(NR.mkdir, t[0] === 0x2f ? t : cat(this.#p(""), t), 0o700);
  }

  #readStatus() {
    const fd = openRead(this.#p("supervise/status"));
    if (fd < 0) return undefined;
    const b = new Uint8Array(STATUS_SIZE);
    const n = sys(NR.read, fd, addr(b), b.length);
    sys(NR.close, fd);
    return n === STATUS_SIZE ? decodeStatus(b) : undefined;
  }

  // ---------------------------------------------------------------- events

  /**
   * At most one read per wake-up, whatever is behind `control` (a FIFO, a regular file being
   * appended to, `/dev/zero`): one service must not hold up every other one on the shared
   * reactor. Level-triggered epoll (or the poll timer) calls again while more is there.
   */
  #onControl(): void {
    if (this.#closed || !this.#machine) return;
    const n = sys(NR.read, this.#fdControl, addr(this.#chunk), this.#chunk.length);
    // n <= 0: drained (EAGAIN), end of a regular file, or EINTR (read at the next wake-up)
    if (n <= 0) return;
    // one byte per turn, each after a reap pass (0.76's loop)
    this.control(this.#chunk.subarray(0, n));
  }

  /**
   * A regular file (or a device such as `/dev/zero`) named `control` cannot be in an epoll
   * set: 0.76 spins on it (always readable), reading what is appended. Here one chunk of it
   * is read four times a second instead.
   */
  #pollControl(): void {
    this.#controlTimer = this.#reactor.at(performance.now() + 250, () => {
      this.#onControl();
      if (!this.#closed) this.#pollControl();
    });
  }

  /** 0.76's reap pass: waitpid on our own child only (never -1, never a reaped pid). */
  #reap(): void {
    const pid = this.#childPid;
    if (!pid || this.#closed) return;
    const r = sys(NR.wait4, pid, addr(this.#wstat), WNOHANG, 0);
    if (r === pid) this.#childGone(pid, this.#wstat[0]);
    else if (r === -ECHILD) this.#childGone(pid);
  }

  #onPidExit(pid: number): void {
    this.#pidfd = -1; // the reactor closed it
    if (this.#closed || !this.#machine) return;
    let wstatus: number | undefined;
    if (this.#childPid === pid) {
      const r = sys(NR.wait4, pid, addr(this.#wstat), WNOHANG, 0);
      if (r === 0) return; // cannot happen for a pidfd that reported exit
      if (r === pid) wstatus = this.#wstat[0];
    } else if (this.#machine.pid !== pid) return;
    this.#childGone(pid, wstatus);
  }

  /** `wstatus`: wait4's, when we reaped it (an adopted process's is not ours to know). */
  #childGone(pid: number, wstatus?: number): void {
    if (this.#childPid === pid) this.#childPid = 0;
    if (this.#pidfd >= 0) this.#reactor.unwatchPid(this.#pidfd);
    this.#pidfd = -1;
    this.#pollTimer?.cancel();
    this.#pollTimer = undefined;
    if (this.#notifyPid === pid) this.#closeNotify();
    this.#refresh();
    this.#apply(this.#machine!.exited(pid, wstatus));
  }

  // ---------------------------------------------------------------- lifecycle files

  /** Re-read the lifecycle files; warn once per change to something unusable. */
  #refresh(): void {
    const files: LifecycleFiles = readLifecycleFiles(this.#root);
    const key = JSON.stringify(files);
    if (key !== this.#cfgSeen) {
      this.#cfgSeen = key;
      const { cfg, warnings } = parseLifecycle(files, this.dir);
      this.#cfg = cfg;
      for (const w of warnings) this.#log(decode(line("supervise", "warning", w)));
    }
    this.#machine?.configure(this.#cfg);
  }

  /** One read per wake-up: the first newline means ready; EOF first means never. */
  #onNotify(): void {
    if (this.#notifyFd < 0 || !this.#machine) return;
    const n = sys(NR.read, this.#notifyFd, addr(this.#chunk), this.#chunk.length);
    if (n === -EAGAIN || n === -4 /* EINTR */) return;
    const pid = this.#notifyPid;
    if (n > 0 && !this.#chunk.subarray(0, n).includes(10)) return; // no newline yet
    this.#closeNotify();
    if (n > 0) this.#apply(this.#machine.ready(pid));
  }

  #closeNotify(): void {
    if (this.#notifyFd < 0) return;
    this.#reactor.unwatch(this.#notifyFd);
    sys(NR.close, this.#notifyFd);
    this.#notifyFd = -1;
    this.#notifyPid = 0;
  }

  #spawnFinish(code: number, signal: number): void {
    const m = this.#machine!;
    const r = spawn("./finish", ["./finish", String(code), String(signal)], {
      cwd: this.#root === "." ? undefined : this.#root,
      stdin: this.#opts.stdin,
      stdout: this.#opts.stdout,
      env: this.#opts.env,
    });
    if (r.errno !== 0) {
      this.#log(
        decode(
          line("supervise", "warning", sysText(`unable to start ${this.dir}/finish`, r.errno)),
        ),
      );
      this.#apply(m.finishFailed());
      return;
    }
    const pid = r.pid;
    this.#finishPid = pid;
    const done = () => {
      this.#finishPidfd = -1;
      const w = sys(NR.wait4, pid, addr(this.#wstat), 0, 0);
      this.#finishPid = 0;
      if (this.#closed || !this.#machine) return;
      this.#refresh();
      this.#apply(this.#machine.finishExited(pid, w === pid ? finishCode(this.#wstat[0]) : -1));
    };
    this.#finishPidfd = this.#reactor.watchPid(pid, done);
    if (this.#finishPidfd < 0) {
      // no pidfd (old kernel): poll for it
      const poll = () => {
        if (this.#closed) return;
        const w = sys(NR.wait4, pid, addr(this.#wstat), WNOHANG, 0);
        if (w === 0) this.#reactor.at(performance.now() + 100, poll);
        else {
          this.#finishPid = 0;
          this.#refresh();
          this.#apply(m.finishExited(pid, w === pid ? finishCode(this.#wstat[0]) : -1));
        }
      };
      this.#reactor.at(performance.now() + 100, poll);
    }
    this.#apply(m.finishSpawned(pid));
  }

  // ---------------------------------------------------------------- actions

  /**
   * A reactor timer at `at` (undefined: none): `done` forgets its handle, then the machine's
   * answer to `fire` is applied while supervision goes on.
   */
  #arm(
    at: number | undefined,
    done: () => void,
    fire: (m: Machine) => Action[],
  ): TimerHandle | undefined {
    if (at === undefined) return undefined;
    return this.#reactor.at(at, () => {
      done();
      if (!this.#closed && this.#machine) this.#apply(fire(this.#machine));
    });
  }

  #apply(actions: Action[]): void {
    for (const a of actions) {
      if (this.#closed) return;
      switch (a.type) {
        case "status":
          if (a.history) this.#writeHistory(a.history);
          this.#writeStatus(a.bytes);
          this.#opts.onChange?.(this);
          break;
        case "kill":
          if (this.#hosted && a.pid === this.#hosted.pid) this.#hosted.signal(a.signal);
          else if (a.pid !== ownPid) {
            sys(NR.kill, a.group && procStat(a.pid)?.pgrp === a.pid ? -a.pid : a.pid, a.signal);
          }
          break;
        case "extra":
          this.#writeFile("extra", a.bytes);
          break;
        case "finish":
          this.#spawnFinish(a.code, a.signal);
          break;
        case "deadline":
          this.#deadline?.cancel();
          this.#deadline = this.#arm(a.at, () => (this.#deadline = undefined), (m) => m.deadline());
          break;
        case "timer":
          this.#timer?.cancel();
          this.#timer = this.#arm(a.at, () => (this.#timer = undefined), (m) => m.timer());
          break;
        case "warn":
          this.#log(decode(line("supervise", "warning", a.text)));
          break;
        case "spawn":
          this.#spawn();
          break;
        case "exit":
          this.#release(true);
          break;
      }
    }
  }

  #spawn(): void {
    const m = this.#machine!;
    this.#refresh();
    if (this.#opts.host && this.#spawnHosted(m)) return;
    // readiness: a fresh pipe, its write end on the child's notification fd
    const nfd = this.#cfg.notifyFd;
    const pipe = new Int32Array(2);
    const piped = nfd !== undefined &&
      sys(NR.pipe2, addr(pipe), O_CLOEXEC | O_NONBLOCK) === 0;
    const r = spawn("./run", ["./run"], {
      cwd: this.#root === "." ? undefined : this.#root,
      stdin: this.#opts.stdin,
      stdout: this.#opts.stdout,
      env: this.#opts.env,
      dup: piped ? [[pipe[1], nfd!]] : undefined,
    });
    if (piped) {
      sys(NR.close, pipe[1]);
      if (r.errno === 0) {
        this.#closeNotify();
        this.#notifyFd = pipe[0];
        this.#notifyPid = r.pid;
        if (this.#reactor.watch(pipe[0], () => this.#onNotify()) !== 0) this.#closeNotify();
      } else sys(NR.close, pipe[0]);
    }
    if (r.errno !== 0) {
      const fork = r.errno === EAGAIN || r.errno === ENOMEM;
      // 0.76's child prints this and exits 111; posix_spawn hands us the errno instead
      if (!fork) {
        this.#log(
          decode(line("supervise", "fatal", sysText(`unable to start ${this.dir}/run`, r.errno))),
        );
      }
      this.#apply(m.spawnFailed(fork, errorStr(r.errno)));
      return;
    }
    const pid = r.pid;
    this.#childPid = pid;
    const pfd = this.#reactor.watchPid(pid, () => this.#onPidExit(pid));
    if (pfd >= 0) this.#pidfd = pfd;
    else this.#pollReap(); // no pidfd (old kernel): poll waitpid
    this.#apply(m.spawned(pid));
  }

  /** Start a hosted child instead of `./run` when the host offers one (true: done). */
  #spawnHosted(m: Machine): boolean {
    let child: HostedChild | undefined = undefined;
    let ended: number | undefined = undefined;
    const exited = (wstatus: number) => {
      if (child === undefined) return void (ended = wstatus); // ended within host()
      if (this.#hosted !== child) return;
      this.#hosted = undefined;
      if (this.#closed || !this.#machine) return;
      this.#refresh();
      this.#apply(this.#machine.exited(child.pid, wstatus));
    };
    child = this.#opts.host!(exited);
    if (child === undefined) return false;
    this.#hosted = child;
    this.#apply(m.spawned(child.pid));
    if (ended !== undefined) exited(ended);
    else child.start();
    return true;
  }

  #pollReap(): void {
    this.#pollTimer = this.#reactor.at(performance.now() + 100, () => {
      this.#pollTimer = undefined;
      this.#reap();
      if (!this.#closed && this.#childPid && this.#pidfd < 0) this.#pollReap();
    });
  }

  /** status.new (trunc-create 0644) + one write + rename, warnings as 0.76 (spec §1.5). */
  #writeStatus(bytes: Uint8Array): void {
    this.#writeFile("status", bytes);
  }

  /** `supervise/NAME.new` + one write + rename `NAME`. */
  #writeFile(name: string, bytes: Uint8Array): void {
    const warn = (text: Text) => this.#log(decode(line("supervise", "warning", text)));
    const dir = this.dir;
    const tmp = this.#p(`supervise/${name}.new`);
    const fd = openTrunc(tmp);
    if (fd < 0) return warn(sysText(`unable to open ${dir}/supervise/${name}.new`, -fd));
    const r = sys(NR.write, fd, addr(bytes as Uint8Array<ArrayBuffer>), bytes.length);
    sys(NR.close, fd);
    if (r < 0) return warn(sysText(`unable to write ${dir}/supervise/${name}.new`, -r));
    if (r < bytes.length) {
      return warn(`unable to write ${dir}/supervise/${name}.new: partial write`);
    }
    const from = cstr(tmp), to = cstr(this.#p(`supervise/${name}`));
    const e = sys(NR.rename, addr(from), addr(to));
    if (e < 0) warn(sysText(`unable to rename ${dir}/supervise/${name}.new to ${name}`, -e));
  }

  /**
   * `supervise/history` (history.new + rename, like the status). Silent on failure: 0.76 has
   * no such file and no such message, and a failing status write has warned already.
   */
  #writeHistory(h: History): void {
    const tmp = this.#p(`supervise/${HISTORY_FILE}.new`);
    const bytes = encodeHistory(h) as Uint8Array<ArrayBuffer>;
    const fd = openTrunc(tmp);
    if (fd < 0) return;
    const r = sys(NR.write, fd, addr(bytes), bytes.length);
    sys(NR.close, fd);
    if (r !== bytes.length) return;
    const from = cstr(tmp), to = cstr(this.#p(`supervise/${HISTORY_FILE}`));
    sys(NR.rename, addr(from), addr(to));
  }

  #release(finished = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#pollTimer?.cancel();
    this.#controlTimer?.cancel();
    this.#deadline?.cancel();
    this.#closeNotify();
    if (this.#finishPidfd >= 0) this.#reactor.unwatchPid(this.#finishPidfd);
    this.#finishPidfd = -1;
    if (this.#pidfd >= 0) this.#reactor.unwatchPid(this.#pidfd);
    this.#pidfd = -1;
    if (this.#fdControl >= 0) this.#reactor.unwatch(this.#fdControl);
    for (const fd of [this.#fdOk, this.#fdControlWrite, this.#fdControl, this.#fdLock]) {
      if (fd >= 0) sys(NR.close, fd);
    }
    this.#fdOk =
      this.#fdControlWrite =
      this.#fdControl =
      this.#fdLock =
        -1;
    this.#resolve();
    if (finished) this.#opts.onExit?.(this);
  }
}

/** `./finish`'s exit code from a wait status (256: killed by a signal). */
function finishCode(wstat: number): number {
  return (wstat & 0x7f) === 0 ? (wstat >> 8) & 0xff : 256;
}
