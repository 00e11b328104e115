/**
 * The environment of a chain as raw `NAME=value` byte strings, read from /proc/self/environ
 * and changed with djb's `pathexec_env` algorithm, so the exec'd program gets the same bytes in
 * the same order as under 0.76.
 * @module
 */
import { cat, decode, splitNul, startsWith } from "../bytes.ts";
import { O_CLOEXEC, O_RDONLY } from "../libc.ts";
import { addr, NR, sys, sysPath } from "../sys.ts";

/**
 * A whole /proc file through raw system calls (the first Deno file operation of a process costs
 * milliseconds; the chain loads FFI anyway). Empty when it cannot be read.
 */
export function readProc(path: string): Uint8Array {
  const fd = sysPath(NR.open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(16384);
    const n = sys(NR.read, fd, addr(buf), buf.length);
    if (n <= 0) break;
    chunks.push(buf.subarray(0, n));
  }
  sys(NR.close, fd);
  return cat(...chunks);
}

/** The environ of this process exactly as the kernel handed it over. */
export function readEnviron(): Uint8Array[] {
  return splitNul(readProc("/proc/self/environ"));
}

let current: Uint8Array[] | undefined;

/**
 * The environment of this process as bytes, in order: what the kernel handed over, or, for a
 * program of ours run in-process at the end of a chain, what the chain made it (envdir's
 * variables included, which /proc/self/environ does not show). Whatever hands an environment
 * on to a child should start from this.
 */
export function environ(): Uint8Array[] {
  return current ??= readEnviron();
}

/** The environment the next program of a chain gets, and the changes the running link makes. */
export class Environ {
  /** The current environ (what `environ` is for the link now running). */
  entries: Uint8Array[];
  /** `pathexec_env` changes made by the link now running (`NAME=value` or `NAME`). */
  private plus: Uint8Array[] = [];

  constructor(entries: Uint8Array[] = environ()) {
    this.entries = entries;
  }

  /** `env_get`: the value of the first `NAME=` entry of the current environ. */
  get(name: string | Uint8Array): Uint8Array | undefined {
    const key = cat(name, "=");
    for (const e of this.entries) if (startsWith(e, key)) return e.subarray(key.length);
    return undefined;
  }

  /** `pathexec_env`: set NAME to value, or remove it (value null), for the next program. */
  set(name: string | Uint8Array, value: string | Uint8Array | null): void {
    this.plus.push(value === null ? cat(name) : cat(name, "=", value));
  }

  /** `pathexec`: fold the pending changes into the environ (same order as 0.76). */
  commit(): Uint8Array[] {
    const e = this.entries.slice();
    for (const p of this.plus) {
      let split = p.indexOf(61); // '='
      if (split < 0) split = p.length;
      for (let t = 0; t < e.length; t++) {
        const x = e[t];
        if (x.length > split && x[split] === 61 && startsWith(x, p.subarray(0, split))) {
          e[t] = e[e.length - 1];
          e.length--;
          break;
        }
      }
      if (split < p.length) e.push(p);
    }
    this.plus = [];
    this.entries = e;
    return e;
  }

  /**
   * Make this the environment of the process, for a program of ours run in-process:
   * {@linkcode environ} returns it, and Deno.env shows it (as far as strings can: a name or value
   * that is not UTF-8 shows with U+FFFD there; environ() has its bytes).
   */
  publish(): void {
    current = this.entries;
    this.syncDeno();
  }

  /** Make Deno.env show this environment. */
  private syncDeno(): void {
    const want = new Map<string, string>();
    for (const e of this.entries) {
      const i = e.indexOf(61);
      if (i <= 0) continue;
      const k = decode(e.subarray(0, i));
      if (!want.has(k)) want.set(k, decode(e.subarray(i + 1)));
    }
    for (const k of Object.keys(Deno.env.toObject())) {
      if (!want.has(k)) Deno.env.delete(k);
    }
    for (const [k, v] of want) {
      try {
        if (Deno.env.get(k) !== v) Deno.env.set(k, v);
      } catch {
        // a name the runtime refuses (e.g. holds a NUL): the program cannot see it either way
      }
    }
  }
}
