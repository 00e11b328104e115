/**
 * Test harness: builds the launcher and its program links once per test process (exactly as
 * `make build` does), runs real processes capturing their exact bytes, and waits for states by
 * bounded polling ({@linkcode waitFor}), never by a fixed sleep. A time is asserted only as a
 * bound a slow machine cannot break (a throttle's lower bound, an interval read around a run).
 *
 * `DT_NO_DEBIAN=1` in the environment hides Debian's daemontools from {@linkcode debian} (and
 * so {@linkcode haveDebian}): every comparison with Debian is then reported as ignored, which
 * shows what the suite proves without it (see tests/fixtures.ts).
 * @module
 */
import { decode } from "../lib/bytes.ts";
import { parseProcStat } from "../lib/proc.ts";
import { S_IFIFO } from "../lib/stat.ts";
import { decodeStatus, type RawStatus } from "../lib/status.ts";
import { addr, AT_FDCWD, NR, sys, sysAt, sysPath } from "../lib/sys.ts";
import { ENOENT, ENXIO } from "../lib/errors.ts";
import { O_NONBLOCK, O_WRONLY } from "../lib/libc.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
let binDir: string | undefined;

/** The repository root. */
export const root = ROOT;

/** Directory holding `daemontools` and one symlink per program (built on first use). */
export function bin(): string {
  if (binDir) return binDir;
  const dir = Deno.makeTempDirSync({ prefix: "dt-bin-" });
  const out = new Deno.Command("sh", {
    args: [`${ROOT}/scripts/build.sh`, dir, ROOT],
    env: { DENO: Deno.execPath(), DENORT_BIN: "", LAUNCHER_ONLY: "1" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    throw new Error(`build failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  binDir = dir;
  return dir;
}

/** Absolute path of our program `name`. */
export function prog(name: string): string {
  return `${bin()}/${name}`;
}

/**
 * Absolute path of Debian's `name`, or undefined when daemontools is not installed (or
 * `DT_NO_DEBIAN=1` is set).
 */
export function debian(name: string): string | undefined {
  if (Deno.env.get("DT_NO_DEBIAN") === "1") return undefined;
  const p = `/usr/bin/${name}`;
  try {
    Deno.statSync(p);
    // our own links must never be mistaken for Debian's
    return Deno.realPathSync(p).startsWith(ROOT) ? undefined : p;
  } catch {
    return undefined;
  }
}

/** True when Debian's daemontools is installed (interop tests run). */
export const haveDebian = debian("supervise") !== undefined && debian("svstat") !== undefined;

/**
 * Result of a finished command: `out`/`err` are the exact bytes, `stdout`/`stderr` the same
 * decoded losslessly (lib/bytes.ts: a byte that is not UTF-8 stays distinct), so comparing the
 * strings compares the bytes.
 */
export interface Ran {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  out: Uint8Array;
  err: Uint8Array;
}

/** Environment every test child gets on top of the caller's. */
export const baseEnv: Record<string, string> = { RUST_BACKTRACE: "0", NO_COLOR: "1" };

/** Where and how {@linkcode run} runs a command. */
export interface RunOptions {
  cwd?: string;
  /** Added to the caller's environment and {@linkcode baseEnv}. */
  env?: Record<string, string>;
  /** Written to the child's stdin, then closed (stdin is /dev/null without it). */
  stdin?: Uint8Array | string;
}

/** Run `cmd args` to completion, capturing exact bytes. */
export async function run(
  cmd: string,
  args: string[] = [],
  opts: RunOptions = {},
): Promise<Ran> {
  const c = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: { ...baseEnv, ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = c.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  const o = await child.output();
  return {
    code: o.code,
    signal: o.signal,
    stdout: decode(o.stdout),
    stderr: decode(o.stderr),
    out: o.stdout,
    err: o.stderr,
  };
}

/**
 * stdout of `cmd ARGS` run synchronously, or undefined when it cannot run or fails: whether a
 * tool is present and allowed here (a container may forbid ptrace, namespaces, mounts).
 */
export function probe(cmd: string, args: string[]): string | undefined {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return o.success ? decode(o.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** A new pid namespace can be made here (root, and a kernel and container that allow it). */
export function canUnshare(): boolean {
  return probe("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "true"]) !==
    undefined;
}

/**
 * A fresh scratch directory; the caller removes it. (`tree()` in tests/fixtures.ts gives one
 * that removes itself, with the processes still running in it.)
 */
export async function scratch(prefix = "dt-test-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

/**
 * Poll `probe` until it returns a truthy value (returned) or `timeoutMs`
 * passes (throws with `what`). Bounded, never a fixed sleep.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (true) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Write an executable script. */
export async function script(path: string, body: string): Promise<void> {
  await Deno.writeTextFile(path, body);
  await Deno.chmod(path, 0o755);
}

/** Mask what legitimately differs between runs: seconds and pids in svstat lines. */
export function maskStatus(s: string): string {
  return s.replace(/\(pid \d+\)/g, "(pid P)").replace(/ \d+ seconds/g, " S seconds");
}

/** True if a process with this pid exists (and is neither a zombie nor dead). */
export function alive(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const st = s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
    return st !== "Z" && st !== "X";
  } catch {
    return false;
  }
}

/** The fields of `svc/supervise/status`; undefined when it is missing or shorter than 18 bytes. */
export function readStatus(svc: string): RawStatus | undefined {
  try {
    return decodeStatus(Deno.readFileSync(`${svc}/supervise/status`));
  } catch {
    return undefined;
  }
}

/** pid in `svc/supervise/status` (0 when down or unreadable). */
export function statusPid(svc: string): number {
  return readStatus(svc)?.pid ?? 0;
}

/** What svok does: true when `svc/supervise/ok` opens for writing (a supervise holds it). */
export function okRunning(svc: string): boolean {
  const fd = sysPath(NR.open, `${svc}/supervise/ok`, O_WRONLY | O_NONBLOCK, 0);
  if (fd >= 0) {
    sys(NR.close, fd);
    return true;
  }
  if (fd !== -ENXIO && fd !== -ENOENT) throw new Error(`open ${svc}/supervise/ok: errno ${-fd}`);
  return false;
}

/** Make a FIFO at `path` (mode `mode` under the umask); throws on failure. */
export function mkfifo(path: string, mode = 0o600): void {
  const r = sysAt(NR.mknodat, AT_FDCWD, path, S_IFIFO | mode, 0);
  if (r < 0) throw new Error(`mkfifo ${path}: errno ${-r}`);
}

/** Read a file as text, "" when it cannot be read. */
export function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * `root` and every process below it by parent pid, depth first; a process whose command name
 * is in `skip` is left out with everything below it.
 */
export function processTree(root: number, skip: readonly string[] = []): number[] {
  const kids = new Map<number, number[]>();
  const comm = new Map<number, string>();
  for (const d of Deno.readDirSync("/proc")) {
    const pid = Number(d.name);
    if (!Number.isInteger(pid)) continue;
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    } catch {
      continue; // gone
    }
    const ppid = parseProcStat(text)?.ppid ?? 0;
    comm.set(pid, text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")));
    kids.set(ppid, [...(kids.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    if (skip.includes(comm.get(p) ?? "")) return;
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(root);
  return out;
}

/** pids of every process (this one aside) whose cwd is `dir` or lies below it. */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const d of Deno.readDirSync("/proc")) {
    const pid = Number(d.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    // the link as bytes: Deno.readLinkSync throws on a name that is not UTF-8 (services in
    // such directories would be left running)
    const n = sysPath(NR.readlink, `/proc/${pid}/cwd`, addr(linkBuf), linkBuf.length);
    if (n < 0) continue; // gone, or not ours to read
    const cwd = decode(linkBuf.subarray(0, n));
    if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(pid);
  }
  return out;
}

const linkBuf = new Uint8Array(4096);

/**
 * True once `pid` is `sleep` asleep in its timer. Right after the exec its dynamic loader still
 * holds descriptors of its own (ld.so.cache, libc) for a moment: look at its fds after this.
 */
export function asleep(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/wchan`).includes("nanosleep");
  } catch {
    return false;
  }
}

/** The last argument of process `pid` as the kernel shows it (bytes), or undefined. */
export function lastArg(pid: number): Uint8Array | undefined {
  try {
    const b = Deno.readFileSync(`/proc/${pid}/cmdline`);
    const end = b.length - 1; // the final NUL
    const start = b.lastIndexOf(0, end - 1) + 1;
    return b.subarray(start, end);
  } catch {
    return undefined;
  }
}

/**
 * Run `PATH service errors: DOTS` (a readproctitle), write `input` to it, and return its title
 * (its last argument) once `done` accepts it.
 */
export async function shownTitle(
  path: string,
  input: Uint8Array,
  dots: string,
  done: (title: Uint8Array) => boolean,
): Promise<Uint8Array> {
  const child = new Deno.Command(path, {
    args: ["service", "errors:", dots],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  try {
    await w.write(input);
    return await waitFor(`${path}'s title`, () => {
      const t = lastArg(child.pid);
      return t && done(t) ? t.slice() : undefined;
    });
  } finally {
    await w.close();
    await child.status;
  }
}

/** True when `path` exists (an empty file included); `follow` false: a dangling symlink too. */
export function exists(path: string, follow = true): boolean {
  try {
    if (follow) Deno.statSync(path);
    else Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** {@linkcode exists} without following a final symlink. */
export const lexists = (path: string): boolean => exists(path, false);
