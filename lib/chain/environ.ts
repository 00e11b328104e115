/**
 * The environment of a chain as raw `NAME=value` byte strings: the caller's (lib/launch.ts
 * `environ()`: the launcher's exact copy, else /proc/self/environ), changed with djb's
 * `pathexec_env` algorithm, so the exec'd program gets the same bytes in the same order as
 * under 0.76.
 * @module
 */
import { cat, decode, startsWith } from "../bytes.ts";
import { environ, setEnviron } from "../launch.ts";

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
   * Make this the environment of the process, for a program of ours run in-process: its
   * children get it (lib/launch.ts `environ()`: bytes, in order),
   * and Deno.env shows it (as far as strings can: what is not UTF-8 shows with U+FFFD there).
   */
  publish(): void {
    setEnviron(this.entries);
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
