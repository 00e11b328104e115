/**
 * How every program speaks, in djb's format (his `strerr`): `PROG: fatal: TEXT`,
 * `PROG: warning: TEXT`, `PROG: usage: TEXT`, each one line written to fd 2 at once. A TEXT
 * may hold raw bytes (file names); strings are encoded with lib/bytes.ts, so escaped bytes
 * come out as the bytes they stand for. `...Sys` variants append `: ` and djb's text for an
 * errno (lib/errors.ts).
 * @module
 */
import { cat, encode } from "./bytes.ts";
import { errorStr } from "./errors.ts";

/** Text of a message: a string or raw bytes. */
export type Text = string | Uint8Array;

let sink: ((b: Uint8Array) => void) | undefined;

/**
 * Send every message of this process to `w` instead of fd 2 (svscan keeping its errors in its
 * own title: lib/svscan/title.ts; a hosted logger whose `log/run` has `exec 2>&1`), or to fd 2
 * again (undefined). Returns the writer it replaces, to be put back.
 */
export function setErrWriter(
  w: ((b: Uint8Array) => void) | undefined,
): ((b: Uint8Array) => void) | undefined {
  const prev = sink;
  sink = w;
  return prev;
}

/** Write all of `s` to stderr synchronously; errors are ignored. */
export function writeErr(s: Text): void {
  const b = typeof s === "string" ? encode(s) : s;
  if (sink) return sink(b);
  let off = 0;
  try {
    while (off < b.length) off += Deno.stderr.writeSync(b.subarray(off));
  } catch {
    // stderr gone: nothing left to tell
  }
}

/** The line `PROG: KIND: TEXT\n` (KIND: fatal, warning, usage). */
export function line(prog: string, kind: "fatal" | "warning" | "usage", text: Text): Uint8Array {
  return cat(`${prog}: ${kind}: `, text, "\n");
}

/** `TEXT: ERR` for an errno value, as djb's `strerr_sys` appends it. */
export function sysText(text: Text, errno: number): Uint8Array {
  return cat(text, ": ", errorStr(errno));
}

/** Print `PROG: warning: TEXT`. */
export function warn(prog: string, text: Text): void {
  writeErr(line(prog, "warning", text));
}

/** Print `PROG: warning: TEXT: ERR`. */
export function warnSys(prog: string, text: Text, errno: number): void {
  warn(prog, sysText(text, errno));
}

/** Print `PROG: fatal: TEXT` and exit with `code` (111 unless given). */
export function fatal(prog: string, text: Text, code = 111): never {
  writeErr(line(prog, "fatal", text));
  Deno.exit(code);
}

/** Print `PROG: fatal: TEXT: ERR` and exit with `code` (111 unless given). */
export function fatalSys(prog: string, text: Text, errno: number, code = 111): never {
  fatal(prog, sysText(text, errno), code);
}

/** Print `PROG: usage: TEXT` and exit with `code` (100 unless given). */
export function usage(prog: string, text: Text, code = 100): never {
  writeErr(line(prog, "usage", text));
  Deno.exit(code);
}
