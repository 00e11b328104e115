/**
 * multilog's script: each argument is one action, decided by its first character
 * (0.76 semantics; unknown actions are ignored). Arguments are strings decoded losslessly
 * (lib/bytes.ts): patterns become the very bytes of the argument, and names (directories,
 * `=FILE`, `!PROC`) go back to the kernel as those bytes.
 * @module
 */
import { encode } from "../bytes.ts";

/** A per-line action, in script order (settings such as `s`/`n`/`!` are folded into dirs). */
export type Action =
  | { kind: "+" | "-"; pat: Uint8Array }
  | { kind: "e" }
  | { kind: "="; file: string; index: number }
  | { kind: "dir"; index: number };

/** A log directory and the settings in force where it appears. */
export interface DirSpec {
  dir: string;
  size: number;
  num: number;
  processor: string | null;
}

/** The parsed script. */
export interface Script {
  /** `t` as the first argument */
  timestamp: boolean;
  actions: Action[];
  dirs: DirSpec[];
  /** `=FILE` names, in order (index = Action.index) */
  files: string[];
}

/** djb's scan_ulong: the leading decimal digits, wrapping like a 64-bit unsigned long. */
export function scanUlong(s: string): bigint {
  let v = 0n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = (v * 10n + BigInt(c)) & 0xffffffffffffffffn;
  }
  return v;
}

/** Parse the arguments the way 0.76's f_init/c_init/doit read them. */
export function parseScript(args: readonly string[]): Script {
  const out: Script = {
    timestamp: args.length > 0 && args[0].startsWith("t"),
    actions: [],
    dirs: [],
    files: [],
  };
  let size = 99999;
  let num = 10;
  let processor: string | null = null;
  for (const a of args) {
    switch (a[0]) {
      case "+":
      case "-":
        out.actions.push({ kind: a[0], pat: encode(a.slice(1)) });
        break;
      case "e":
        out.actions.push({ kind: "e" });
        break;
      case "=":
        out.actions.push({ kind: "=", file: a.slice(1), index: out.files.length });
        out.files.push(a.slice(1));
        break;
      case "s": {
        const v = scanUlong(a.slice(1));
        size = v < 4096n ? 4096 : v > 16777215n ? 16777215 : Number(v);
        break;
      }
      case "n": {
        const v = scanUlong(a.slice(1));
        num = v < 2n ? 2 : v > 1n << 53n ? Number.MAX_SAFE_INTEGER : Number(v);
        break;
      }
      case "!":
        processor = a.slice(1);
        break;
      case ".":
      case "/":
        out.actions.push({ kind: "dir", index: out.dirs.length });
        out.dirs.push({ dir: a, size, num, processor });
        break;
    }
  }
  return out;
}
