/**
 * djb-style diagnostics: `PROG: fatal: TEXT`, `PROG: warning: TEXT`,
 * `PROG: usage: TEXT`, written to fd 2 at once (strerr).
 * @module
 */

const enc = new TextEncoder();

/** Write all of `s` to stderr synchronously; errors are ignored. */
export function writeErr(s: string | Uint8Array): void {
  const b = typeof s === "string" ? enc.encode(s) : s;
  let off = 0;
  try {
    while (off < b.length) off += Deno.stderr.writeSync(b.subarray(off));
  } catch {
    // stderr gone: nothing left to tell
  }
}

/** Print `PROG: warning: TEXT`. */
export function warn(prog: string, text: string): void {
  writeErr(`${prog}: warning: ${text}\n`);
}

/** Print `PROG: fatal: TEXT` and exit with `code` (111 unless given). */
export function fatal(prog: string, text: string, code = 111): never {
  writeErr(`${prog}: fatal: ${text}\n`);
  Deno.exit(code);
}

/** Print `PROG: usage: TEXT` and exit with `code` (100 unless given). */
export function usage(prog: string, text: string, code = 100): never {
  writeErr(`${prog}: usage: ${text}\n`);
  Deno.exit(code);
}
