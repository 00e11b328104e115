/**
 * What the launcher (scripts/launcher.pl) hands over, and the process's environment as bytes.
 *
 * The launcher sets `DAEMONTOOLS_LAUNCH="ENVFD CLOSED SELF PATH"`: a memfd holding the caller's
 * environ exactly (every byte, in order: the runtime itself saw it without its own
 * variables), the descriptors among 0-2 the caller had closed (`-`: none; the launcher put
 * /dev/null there the wrong way round, so reads and writes fail with EBADF), and the launcher
 * file's `dev:ino` (what program links resolve to, for in-process chaining), and the path it
 * was invoked by (a program link; svscanboot puts its directory first in PATH). Without the
 * launcher (the sources run directly, a compiled binary) the environ comes from
 * /proc/self/environ and nothing is known closed.
 * @module
 */
import { splitNul } from "./bytes.ts";
import { EINTR } from "./errors.ts";
import { F_SETFD, FD_CLOEXEC, O_CLOEXEC, O_RDONLY } from "./libc.ts";
import { addr, NR, sys, sysPath } from "./sys.ts";

const VAR = "DAEMONTOOLS_LAUNCH";

interface Launch {
  envFd: number;
  closed: number[];
  self: string | null;
  path: string;
}

let parsed: Launch | null | undefined;
let env: Uint8Array[] | undefined;

/** The path of the program link the launcher was invoked by ("" without the launcher). */
export function launcherPath(): string {
  return launch()?.path ?? "";
}

/** Read (once) and remove DAEMONTOOLS_LAUNCH; the memfd is made close-on-exec at once. */
function launch(): Launch | null {
  if (parsed !== undefined) return parsed;
  parsed = null;
  let v: string | undefined;
  try {
    v = Deno.env.get(VAR);
    if (v !== undefined) Deno.env.delete(VAR);
  } catch {
    return null; // no env permission: no launcher either
  }
  const m = v === undefined ? null : /^(-?\d+) (\S+) (\S+) ?(.*)$/.exec(v);
  if (!m) return null;
  const envFd = Number(m[1]);
  if (envFd >= 0) sys(NR.fcntl, envFd, F_SETFD, FD_CLOEXEC);
  parsed = {
    envFd,
    closed: m[2] === "-" ? [] : m[2].split(",").map(Number),
    self: m[3] === "-" ? null : m[3],
    path: m[4],
  };
  return parsed;
}

/** Take over what the launcher said (main.ts calls it first thing). */
export function takeLaunch(): void {
  launch();
}

/** True when the program was started through the launcher (its name is the first argument). */
export function launched(): boolean {
  return launch() !== null;
}

/** Descriptors among 0-2 the caller had closed (children get them closed too). */
export function closedFds(): readonly number[] {
  return launch()?.closed ?? [];
}

/** `dev:ino` of the launcher (what our program links resolve to), or null. */
export function launcherId(): string | null {
  return launch()?.self ?? null;
}

/** A whole file read with raw calls from descriptor `fd` (from offset 0 for a memfd). */
function readAll(fd: number, positional: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(16384);
    const n = positional
      ? sys(NR.pread64, fd, addr(buf), buf.length, total)
      : sys(NR.read, fd, addr(buf), buf.length);
    if (n === -EINTR) continue;
    if (n <= 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * The environment the caller gave this program, `NAME=value` byte strings in their order (or
 * what {@linkcode setEnviron} put in its place). Children get it unchanged.
 */
export function environ(): Uint8Array[] {
  if (env !== undefined) return env;
  const l = launch();
  let raw: Uint8Array;
  if (l && l.envFd >= 0) raw = readAll(l.envFd, true);
  else {
    const fd = sysPath(NR.open, "/proc/self/environ", O_RDONLY | O_CLOEXEC, 0);
    raw = fd < 0 ? new Uint8Array(0) : readAll(fd, false);
    if (fd >= 0) sys(NR.close, fd);
  }
  env = splitNul(raw);
  return env;
}

/** Replace the environment (a chain runs a program of ours in-process with its own). */
export function setEnviron(entries: Uint8Array[]): void {
  env = entries;
}
