/**
 * multilog's pattern matcher (0.76 `match.c`): literal bytes match themselves; a `*`
 * followed by byte C skips to the next C (the shortest run without C); a `*` at the end of
 * the pattern matches the rest; the whole buffer must be consumed. No fnmatch, no escapes.
 * @module
 */

/** True if `pat` matches `buf[off, off+len)` as a whole. */
export function match(pat: Uint8Array, buf: Uint8Array, off: number, len: number): boolean {
  let i = 0;
  const n = pat.length;
  for (;;) {
    if (i === n) return len === 0;
    let ch = pat[i++];
    if (ch === 42) {
      if (i === n) return true;
      ch = pat[i];
      for (;;) {
        if (len === 0) return false;
        if (buf[off] === ch) break;
        off++;
        len--;
      }
      continue;
    }
    if (len === 0 || buf[off] !== ch) return false;
    off++;
    len--;
  }
}
