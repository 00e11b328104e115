/**
 * Test harness: builds the launcher and its program links once per test
 * process (exactly as `make build` does), runs real processes, polls for
 * states with a bound. No fixed sleeps, no timing assertions.
 * @module
 */

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

/** Absolute path of Debian's `name`, or undefined when daemontools is not installed. */
export function debian(name: string): string | undefined {
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

/** Result of a finished command; stdout/stderr decoded as latin1-safe UTF-8. */
export interface Ran {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  out: Uint8Array;
  err: Uint8Array;
}

const dec = new TextDecoder();

/** Environment every test child gets on top of the caller's. */
export const baseEnv: Record<string, string> = { RUST_BACKTRACE: "0", NO_COLOR: "1" };

/** Run `cmd args` to completion, capturing exact bytes. */
export async function run(
  cmd: string,
  args: string[] = [],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: Uint8Array | string } = {},
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
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
    out: o.stdout,
    err: o.stderr,
  };
}

/** A fresh scratch directory, removed by the returned cleanup. */
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

/** pid in `svc/supervise/status` (0 when down or unreadable). */
export function statusPid(svc: string): number {
  try {
    const b = Deno.readFileSync(`${svc}/supervise/status`);
    if (b.length < 18) return 0;
    return new DataView(b.buffer, b.byteOffset).getUint32(12, true);
  } catch {
    return 0;
  }
}

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
