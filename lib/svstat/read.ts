/**
 * What `svstat -j`/`-m` and svscan's metrics file know of one service directory: the checks of
 * plain svstat (down file, `supervise/ok` probe, the 18-byte `supervise/status`) plus the exit
 * history of lib/history.ts and the readiness and `./finish` state of lib/extra_status.ts
 * (issue 10's `supervise/extra`). Plain `svstat` does not load this module (start-up time).
 *
 * Paths are `prefix + "down"` etc.: svstat chdirs into each directory first (its error texts
 * name `down`, `supervise/ok` as 0.76's do) and passes ""; svscan passes `NAME/`.
 * @module
 */
import { decode } from "../bytes.ts";
import { ENOENT, ENXIO } from "../errors.ts";
import { readExtra } from "../extra_status.ts";
import { type Exit, HISTORY_FILE, readHistory } from "../history.ts";
import { notifyFdOf } from "../lifecycle.ts";
import { sysText } from "../msg.ts";
import { openRead, openWrite } from "../open.ts";
import { stat } from "../stat.ts";
import { addr, NR, sys } from "../sys.ts";
import { TAI_OFFSET } from "../tai64n.ts";

/** A directory that was read (with or without a supervisor running). */
export interface Report {
  dir: string;
  /** A supervisor runs (`supervise/ok` has a reader). */
  supervise: boolean;
  /**
   * The other fields are null when no supervisor runs (its files may be stale). "finish" while
   * `./finish` runs after `./run` ended (docs/lifecycle.md).
   */
  state: "up" | "down" | "finish" | null;
  pid: number | null;
  /** Unix time of the last pid change (status stamp, whole seconds). */
  since: number | null;
  /** Seconds in the state, as plain svstat prints them. */
  seconds: number | null;
  normally: "up" | "down";
  /** The supervisor's want byte: `u`, `d`, or null (0 after `svc -o`). */
  want: "up" | "down" | null;
  paused: boolean | null;
  /**
   * Readiness: null where it is not tracked (no usable `notification-fd`); else whether the
   * running pid reported it (supervise/extra).
   */
  ready: boolean | null;
  /** From `supervise/history`; null when there is none (Debian's supervise) or it is junk. */
  lastExit: Exit | null;
  starts: number | null;
  /** Unix time the supervisor began counting `starts`. */
  startsSince: number | null;
}

/** A directory that could not be read: `error` is plain svstat's text for it. */
export interface Failure {
  dir: string;
  error: string;
}

const status = new Uint8Array(18);

/** Read directory `dir` (display name) through `prefix`; `nowMs` is the wall clock. */
export function inspect(dir: string, prefix: string, nowMs: number): Report | Failure {
  const fail = (error: string | Uint8Array): Failure => ({
    dir,
    error: typeof error === "string" ? error : decode(error),
  });
  const down = stat(`${prefix}down`);
  const normallyUp = typeof down === "number";
  if (normallyUp && down !== -ENOENT) return fail(sysText("unable to stat down", -down));
  const normally = normallyUp ? "up" : "down";

  let fd = openWrite(`${prefix}supervise/ok`);
  if (fd === -ENXIO) {
    return {
      dir,
      supervise: false,
      state: null,
      pid: null,
      since: null,
      seconds: null,
      normally,
      want: null,
      paused: null,
      ready: null,
      lastExit: null,
      starts: null,
      startsSince: null,
    };
  }
  if (fd < 0) return fail(sysText("unable to open supervise/ok", -fd));
  sys(NR.close, fd);

  fd = openRead(`${prefix}supervise/status`);
  if (fd < 0) return fail(sysText("unable to open supervise/status", -fd));
  const n = sys(NR.read, fd, addr(status), 18);
  sys(NR.close, fd);
  if (n < 0) return fail(sysText("unable to read supervise/status", -n));
  if (n < 18) return fail("unable to read supervise/status: bad format");

  const v = new DataView(status.buffer);
  const pid = v.getUint32(12, true);
  const when = v.getBigUint64(0);
  const nowSec = Math.floor(nowMs / 1000);
  const now = TAI_OFFSET + BigInt(nowSec);
  // as plain svstat (0.76's tai_approx): never negative
  const seconds = now < when ? 0 : Number(now - when);
  const h = readHistory(`${prefix}supervise/${HISTORY_FILE}`);
  const since = Number(when - TAI_OFFSET);
  const root = prefix === "" ? "." : prefix.replace(/\/$/, "");
  const tracked = notifyFdOf(root) !== undefined;
  const extra = readExtra(root);
  const finishing = !pid && extra?.finish !== undefined;
  return {
    dir,
    supervise: true,
    state: pid ? "up" : finishing ? "finish" : "down",
    pid: pid || null,
    since,
    seconds,
    normally,
    want: status[17] === 0x75 ? "up" : status[17] === 0x64 ? "down" : null,
    paused: pid !== 0 && status[16] !== 0,
    ready: tracked ? pid !== 0 && extra?.ready?.pid === pid : null,
    lastExit: h?.lastExit ?? null,
    starts: h?.starts ?? null,
    startsSince: h?.since ?? null,
  };
}
