/**
 * Helpers for the multilog/tai64n tests: deterministic inputs, running a logger with stdin
 * from a file, FIFO-fed long-running loggers, and masked snapshots of log directories.
 * @module
 */
import { baseEnv, lexists as exists, prog, type Ran, run } from "./util.ts";

/** Our multilog. */
export const ours = (): string => prog("multilog");

/** Deterministic pseudo-random text: `count` lines of assorted lengths (seeded LCG). */
export function mixedInput(seed: number, count: number, lengths: number[]): Uint8Array {
  let x = seed >>> 0;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = lengths[rnd() % lengths.length];
    let s = `${i}:`;
    while (s.length < n) s += String.fromCharCode(97 + (rnd() % 26));
    parts.push(s.slice(0, n));
  }
  return new TextEncoder().encode(parts.join("\n") + "\ntrailing partial line");
}

/** Run `bin args` in `cwd` with stdin read from `file` (so reads are deterministic). */
export function runWithFile(bin: string, args: string[], cwd: string, file: string): Promise<Ran> {
  return run("sh", ["-c", 'f=$1; shift; exec "$@" < "$f"', "sh", file, bin, ...args], { cwd });
}

const STAMP = /@[0-9a-f]{24}/g;

/** Replace every TAI64N stamp by `@STAMP`. */
export function maskStamps(s: string): string {
  return s.replace(STAMP, "@STAMP");
}

/**
 * A log directory as text: one header per entry in name order (stamps masked, octal mode,
 * size) followed by its contents with stamps masked.
 */
export function snapshot(dir: string): string {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  let out = "";
  for (const n of names) {
    const st = Deno.statSync(`${dir}/${n}`);
    const mode = ((st.mode ?? 0) & 0o7777).toString(8);
    out += `== ${maskStamps(n)} ${mode} ${st.size}\n`;
    if (st.isFile) out += maskStamps(Deno.readTextFileSync(`${dir}/${n}`));
  }
  return out;
}

/** Every line stored in a log directory (old files in order, then current). */
export function storedLines(dir: string): string[] {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("@"))
    .sort();
  names.push("current");
  let text = "";
  for (const n of names) text += Deno.readTextFileSync(`${dir}/${n}`);
  return text.split("\n").slice(0, -1);
}

/** A multilog reading a FIFO the test holds open read-write (it can feed and drain it). */
export interface Fed {
  child: Deno.ChildProcess;
  fifo: Deno.FsFile;
  pid: number;
  /** stderr collected so far */
  stderr: () => string;
  write: (s: string) => void;
  /** wait for exit; returns the status */
  done: () => Promise<Deno.CommandStatus>;
  kill: (sig: Deno.Signal) => void;
}

/**
 * Start `bin args` in `cwd` reading from the FIFO `cwd/in.fifo` (made if missing; an
 * existing one keeps whatever earlier loggers left unread).
 */
export async function fed(bin: string, args: string[], cwd: string): Promise<Fed> {
  const path = `${cwd}/in.fifo`;
  if (!exists(path)) {
    const mk = await run("mkfifo", [path]);
    if (mk.code !== 0) throw new Error(`mkfifo: ${mk.stderr}`);
  }
  const fifo = Deno.openSync(path, { read: true, write: true });
  const child = new Deno.Command("sh", {
    args: ["-c", 'f=$1; shift; exec "$@" < "$f"', "sh", path, bin, ...args],
    cwd,
    env: baseEnv,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const b of child.stderr) err += dec.decode(b);
  })();
  const enc = new TextEncoder();
  let status: Promise<Deno.CommandStatus> | undefined;
  return {
    child,
    fifo,
    pid: child.pid,
    stderr: () => err,
    write: (s) => {
      const b = enc.encode(s);
      let off = 0;
      while (off < b.length) off += fifo.writeSync(b.subarray(off));
    },
    done: () =>
      status ??= (async () => {
        const s = await child.status;
        await reading;
        return s;
      })(),
    kill: (sig) => {
      try {
        Deno.kill(child.pid, sig);
      } catch { /* gone already */ }
    },
  };
}

/** Stop a fed logger for good and close its FIFO (for finally blocks). */
export async function stopFed(f: Fed | undefined): Promise<void> {
  if (!f) return;
  f.kill("SIGKILL");
  await f.done();
  try {
    f.fifo.close();
  } catch { /* closed */ }
}

/** Read what is left in a FIFO held read-write (non-blocking: only what is buffered). */
export function drainFifo(path: string): string {
  // a second non-blocking reader sees the same pipe buffer
  const r = new Deno.Command("sh", {
    args: ["-c", 'exec timeout 2 dd bs=65536 count=1 iflag=nonblock status=none < "$0"', path],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(r.stdout);
}

/** Names in `dir` that start with `@`, sorted. */
export function oldFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("@")).sort();
  } catch {
    return [];
  }
}
