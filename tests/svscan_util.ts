/**
 * Helpers for the svscan tests: a running svscan whose stderr/stdout are collected, the
 * service tree it leaves behind, and a cleanup that kills every process started under a
 * scratch directory (found through /proc/PID/cwd), so no test leaks processes;
 * {@linkcode withScan} puts the three together.
 */
import { cat } from "../lib/bytes.ts";
import { assertEquals } from "./assert.ts";
import { O_RDONLY } from "../lib/libc.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";
import {
  alive,
  baseEnv,
  processesUnder,
  prog,
  readOr,
  scratch,
  script,
  statusPid,
  waitFor,
} from "./util.ts";

const dec = new TextDecoder();

/** How to run an svscan: `cmd` (default ours) with `args` (default: the directory). */
export interface ScanOptions {
  cmd?: string;
  cwd?: string;
  args?: string[];
  /** PATH of the svscan (default: our programs' directory first). */
  path?: string;
}

/** A running svscan (ours unless `cmd` says otherwise). */
export class Scan {
  readonly child: Deno.ChildProcess;
  err = "";
  out = "";
  #errBytes: Uint8Array[] = [];
  #outBytes: Uint8Array[] = [];
  #done: Promise<Deno.CommandStatus>;
  status: Deno.CommandStatus | undefined;

  constructor(dir: string | undefined, opts: ScanOptions = {}) {
    this.child = new Deno.Command(opts.cmd ?? prog("svscan"), {
      args: opts.args ?? (dir === undefined ? [] : [dir]),
      cwd: opts.cwd,
      env: {
        ...baseEnv,
        PATH: opts.path ?? `${prog("svscan").replace(/\/svscan$/, "")}:${Deno.env.get("PATH")}`,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#collect(this.child.stderr, (s) => (this.err += s), this.#errBytes);
    this.#collect(this.child.stdout, (s) => (this.out += s), this.#outBytes);
    this.#done = this.child.status.then((s) => (this.status = s));
  }

  get pid(): number {
    return this.child.pid;
  }

  async #collect(r: ReadableStream<Uint8Array>, add: (s: string) => void, raw?: Uint8Array[]) {
    for await (const chunk of r) {
      raw?.push(chunk);
      add(dec.decode(chunk, { stream: true }));
    }
  }

  /** stdout so far, as the exact bytes. */
  get outBytes(): Uint8Array {
    return cat(...this.#outBytes);
  }

  /** stderr so far, as the exact bytes. */
  get errBytes(): Uint8Array {
    return cat(...this.#errBytes);
  }

  /** Wait until stderr contains `text` (or matches). */
  async waitErr(text: string | RegExp, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      `svscan stderr to contain ${text}`,
      () => (typeof text === "string" ? this.err.includes(text) : text.test(this.err)),
      timeoutMs,
    );
  }

  /** Send `sig` and wait for the exit (KILL after `timeoutMs`). */
  async stop(sig: Deno.Signal = "SIGTERM", timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    if (this.status) return this.status;
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, timeoutMs);
    const s = await this.#done;
    clearTimeout(t);
    // let the output readers finish
    await new Promise((r) => setTimeout(r, 0));
    return s;
  }
}

/** Kill every process started under `dir`, then remove it. */
export async function cleanup(dir: string, ...scans: (Scan | undefined)[]): Promise<void> {
  for (const s of scans) if (s) await s.stop("SIGKILL");
  for (let i = 0; i < 3; i++) {
    const left = processesUnder(dir);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await waitFor("leftovers to die", () => processesUnder(dir).length === 0, 5000).catch(
      () => {},
    );
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Make service `dir/name` with this run script body (and optionally a log/run). */
export async function service(
  dir: string,
  name: string,
  run: string,
  log?: string,
): Promise<string> {
  const d = `${dir}/${name}`;
  await Deno.mkdir(d, { recursive: true });
  if (log !== undefined) {
    await Deno.mkdir(`${d}/log`);
    await script(`${d}/log/run`, log);
  }
  await script(`${d}/run`, run);
  return d;
}

/** Wait until the service at `svc` runs a process (pid from its status), returned. */
export async function waitUp(svc: string, not = 0, timeoutMs = 10_000): Promise<number> {
  return await waitFor(`${svc} up`, () => {
    const p = statusPid(svc);
    return p && p !== not && alive(p) ? p : 0;
  }, timeoutMs);
}

/** A scratch scan directory and the svscans started on it (see {@linkcode withScan}). */
export interface Tree {
  /** The scratch directory (absolute). */
  readonly dir: string;
  /** Start a svscan on `dir` (or as `opts` say); it is killed when the test ends. */
  start(opts?: ScanOptions): Scan;
  /** Run `fn` when the test ends, before the tree's processes are killed. */
  defer(fn: () => Promise<void> | void): void;
}

/**
 * Run `fn` on a fresh scratch directory; afterwards (also on failure) run what it deferred,
 * kill its svscans and every process started under the directory, and remove it.
 */
export async function withScan(fn: (t: Tree) => Promise<void>): Promise<void> {
  const dir = await scratch();
  const scans: Scan[] = [];
  const deferred: (() => Promise<void> | void)[] = [];
  try {
    await fn({
      dir,
      start: (opts = {}) => {
        const s = new Scan(dir, opts);
        scans.push(s);
        return s;
      },
      defer: (f) => deferred.push(f),
    });
  } finally {
    for (const f of deferred) await f();
    await cleanup(dir, ...scans);
  }
}

/**
 * In `dir`, service directories svscan and supervise complain about: `norun` (no run),
 * `noexec` (run not executable), `rundir` (run is a directory), `logfile` (log is a file),
 * symlinks `dangling` and `loop1` <-> `loop2`, and a `plainfile` (ignored).
 */
export async function badTree(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/norun`);
  await service(dir, "noexec", "#!/bin/sh\nexit 0\n");
  await Deno.chmod(`${dir}/noexec/run`, 0o644);
  await Deno.mkdir(`${dir}/rundir/run`, { recursive: true });
  await service(dir, "logfile", "#!/bin/sh\nexec sleep 1000\n");
  await Deno.writeTextFile(`${dir}/logfile/log`, "not a directory");
  await Deno.symlink("nowhere", `${dir}/dangling`);
  await Deno.symlink("loop2", `${dir}/loop1`);
  await Deno.symlink("loop1", `${dir}/loop2`);
  await Deno.writeTextFile(`${dir}/plainfile`, "");
}

/** Services a {@linkcode scanTest} makes first: name → `./run`'s text, or [`./run`, `./log/run`]. */
export type Services = Record<string, string | readonly [run: string, log: string]>;

/** What a {@linkcode scanTest} body gets: the scratch {@linkcode Tree} and its services' paths. */
export interface ScanTest extends Tree {
  /** Path of each service made from the test's {@linkcode Services}, by name. */
  readonly svc: Readonly<Record<string, string>>;
}

/**
 * Register a svscan test: on a fresh scratch directory ({@linkcode withScan}) the `services`
 * are made first, in their order, then `fn` runs (it starts svscan itself); afterwards its
 * svscans and every process under the directory are killed and the directory removed.
 * `test` is the name, or the name and whether it is ignored.
 *
 * ```ts
 * scanTest("svscan: ...", { a: SLEEP, w: [WRITER, LOGGER] }, async ({ start, svc }) => {
 *   start();
 *   await waitUp(svc.a);
 * });
 * ```
 */
export function scanTest(
  test: string | { name: string; ignore?: boolean },
  services: Services,
  fn: (t: ScanTest) => Promise<void>,
): void {
  const { name, ignore = false } = typeof test === "string" ? { name: test } : test;
  Deno.test({
    name,
    ignore,
    fn: () =>
      withScan(async (t) => {
        const svc: Record<string, string> = {};
        for (const [n, s] of Object.entries(services)) {
          const [run, log] = typeof s === "string" ? [s, undefined] : s;
          svc[n] = await service(t.dir, n, run, log);
        }
        await fn({ ...t, svc });
      }),
  });
}

/**
 * In `dir`, made by the shell so the names stay bytes: services `\xefbin` and `s\xff`, whose
 * runs touch `../ef.started` and `../ff.started`, and a dangling symlink `d\xfe`.
 */
export async function bytesTree(dir: string): Promise<void> {
  const r = await new Deno.Command("sh", {
    args: [
      "-c",
      `set -e; cd "$1"
       for n in ef ff; do
         case $n in ef) d=$(printf '\\357bin') ;; ff) d=$(printf 's\\377') ;; esac
         mkdir "$d"
         printf '#!/bin/sh\\ntouch ../%s.started\\nexec sleep 1000\\n' $n >"$d/run"
         chmod +x "$d/run"
       done
       ln -s nowhere "$(printf 'd\\376')"`,
      "sh",
      dir,
    ],
  }).output();
  if (!r.success) throw new Error(`bytesTree: ${new TextDecoder().decode(r.stderr)}`);
}

/** pid in `svc/supervise/status`, `svc` given as bytes (0 when down or unreadable). */
export function statusPidBytes(svc: Uint8Array): number {
  const fd = sysPath(NR.open, cat(svc, "/supervise/status"), O_RDONLY);
  if (fd < 0) return 0;
  const b = new Uint8Array(64);
  const n = sys(NR.read, fd, addr(b), b.length);
  sys(NR.close, fd);
  return n >= 18 ? new DataView(b.buffer).getUint32(12, true) : 0;
}

/** True when `hay` holds the bytes of `needle`. */
export function hasBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

export { exists } from "./util.ts";

/**
 * In `dir`: services `good`, `fifo` and `zero` whose runs touch `../NAME.started`; `fifo`'s
 * `supervise/status` is a FIFO, `zero`'s a symlink to /dev/zero (left by hand or by a crash:
 * opening the one blocks, reading the other never ends).
 */
export async function stallTree(dir: string): Promise<void> {
  for (const n of ["good", "fifo", "zero"]) {
    await service(dir, n, `#!/bin/sh\ntouch ../${n}.started\nexec sleep 1000\n`);
    await Deno.mkdir(`${dir}/${n}/supervise`);
  }
  const r = await new Deno.Command("mkfifo", { args: [`${dir}/fifo/supervise/status`] }).output();
  if (!r.success) throw new Error("mkfifo failed");
  await Deno.symlink("/dev/zero", `${dir}/zero/supervise/status`);
}

// ------------------------------------------------------------------ hosted loggers (issue 9)

/** A log/run svscan hosts: it only execs our multilog. */
export const LOG = "#!/bin/sh\nexec multilog t ./main\n";

/** Every line of `dir/main` (rotated files in name order, then current), stamps removed. */
export function logLines(logdir: string): string[] {
  const main = `${logdir}/main`;
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(main)].map((e) => e.name).filter((n) => n.startsWith("@"))
      .sort();
  } catch {
    return [];
  }
  const text = [...names, "current"].map((n) => readOr(`${main}/${n}`)).join("");
  return text.split("\n").filter((l) => l !== "").map((l) => l.replace(/^@[0-9a-f]{24} /, ""));
}

/**
 * multilog processes whose cwd is exactly `dir` (a spawned logger runs in its log directory),
 * or with `below`, `dir` or any directory under it.
 */
export function multilogsIn(dir: string, below = false): number[] {
  return processesUnder(dir).filter((pid) => {
    try {
      return (below || Deno.readLinkSync(`/proc/${pid}/cwd`) === dir) &&
        Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("multilog");
    } catch {
      return false;
    }
  });
}

/** A ./run that says hello, then sleeps. */
export const HELLO = "#!/bin/sh\necho hello\nexec sleep 1000\n";

/**
 * A ./run that writes `line 1`, `line 2`, ... `pause` seconds apart until ../stop exists, then
 * `done`. `before`: shell text run first; `line`: the shell text that writes line `$i`.
 */
export function counting(pause: string, opts: { before?: string; line?: string } = {}): string {
  const line = opts.line ?? 'echo "line $i"';
  return `#!/bin/sh\n${opts.before ?? ""}i=0\n` +
    `while [ ! -e ../stop ]; do i=$((i+1)); ${line}; sleep ${pause}; done\n` +
    "echo done\nexec sleep 1000\n";
}

/**
 * Stop a {@linkcode counting} service in `dir`: its `log` must then hold `line 1` ... `line N`
 * and `done`, each once, in order.
 */
export async function stopCounting(dir: string, log: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/stop`, "");
  await waitFor("done", () => logLines(log).includes("done"));
  const lines = logLines(log);
  assertEquals(lines.at(-1), "done");
  const nums = lines.slice(0, -1);
  assertEquals(nums, nums.map((_, i) => `line ${i + 1}`));
}

/** What {@linkcode hostedTest} gives its body: the scratch tree, the svscan, `a`'s log dir. */
export interface Hosted extends Tree {
  /** The svscan, started. */
  scan: Scan;
  /** Service `a`'s log directory. */
  log: string;
}

/** A test of service `a` (this ./run) whose log/run is the hosted {@linkcode LOG}, svscan started. */
export function hostedTest(
  name: string,
  runText: string,
  body: (h: Hosted) => Promise<void>,
): void {
  scanTest(
    name,
    { a: [runText, LOG] },
    (t) => body({ ...t, scan: t.start(), log: `${t.svc.a}/log` }),
  );
}
