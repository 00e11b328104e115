/**
 * Bytes as strings and back, losslessly. daemontools passes names, arguments, environment
 * entries and log lines through as bytes; JavaScript code wants strings. {@linkcode decode}
 * turns a byte string into a JS string where every byte that is not part of valid UTF-8
 * becomes one lone surrogate U+DC80..U+DCFF (Python's "surrogateescape"), and
 * {@linkcode encode} turns those back into the very bytes. Valid UTF-8 decodes as usual, so
 * `decode(encode(s)) === s` for any string that came from `decode`, and
 * `encode(decode(b))` equals `b` for any byte string.
 *
 * Everything that hands a string to the kernel or writes it out (lib/sys.ts's paths,
 * lib/msg.ts's messages, exec vectors) goes through {@linkcode encode}; never `TextEncoder`,
 * which turns lone surrogates into U+FFFD.
 * @module
 */

const utf8 = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const SURROGATE = /[\uD800-\uDFFF]/;

/** The bytes a string stands for (escaped bytes come back as themselves). */
export function encode(s: string): Uint8Array<ArrayBuffer> {
  if (!SURROGATE.test(s)) return utf8.encode(s);
  const out: number[] = [];
  let start = 0; // start of the run of ordinary characters not yet copied
  const flush = (end: number) => {
    if (end > start) { for (const b of utf8.encode(s.slice(start, end))) out.push(b); }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a pair: an ordinary character
        continue;
      }
    }
    flush(i);
    start = i + 1;
    // an escaped byte; any other lone surrogate (never made by decode) as its 3-byte form
    if (c >= 0xdc80 && c <= 0xdcff) out.push(c - 0xdc00);
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  flush(s.length);
  return new Uint8Array(out);
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there is not one. */
function sequence(b: Uint8Array, i: number): number {
  const x = b[i];
  let n: number, lo = 0x80, hi = 0xbf;
  if (x >= 0xc2 && x <= 0xdf) n = 2;
  else if (x >= 0xe0 && x <= 0xef) {
    n = 3;
    if (x === 0xe0) lo = 0xa0;
    if (x === 0xed) hi = 0x9f; // no encoded surrogates
  } else if (x >= 0xf0 && x <= 0xf4) {
    n = 4;
    if (x === 0xf0) lo = 0x90;
    if (x === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > b.length) return 0;
  if (b[i + 1] < lo || b[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return 0;
  return n;
}

/** The string for a byte string: UTF-8 where valid, each other byte escaped. */
export function decode(b: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let s = "";
    for (let i = 0; i < b.length; i += 8192) {
      s += String.fromCharCode(...b.subarray(i, i + 8192));
    }
    return s;
  }
  try {
    return strict.decode(b);
  } catch {
    // not valid UTF-8: decode piece by piece below
  }
  let s = "";
  let start = 0;
  for (let i = 0; i < b.length;) {
    if (b[i] < 0x80) {
      i++;
      continue;
    }
    const n = sequence(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    s += strict.decode(b.subarray(start, i)) + String.fromCharCode(0xdc00 + b[i]);
    start = ++i;
  }
  return s + strict.decode(b.subarray(start));
}

/** Concatenate strings (encoded) and byte strings into one byte string. */
export function cat(...parts: (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const bs = parts.map((p) => typeof p === "string" ? encode(p) : p);
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of bs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** A NUL-terminated copy of `s` for passing as `char*`. */
export function cstr(s: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const b = typeof s === "string" ? encode(s) : s;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** True when `b` starts with `prefix`. */
export function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** Split `raw` at NUL bytes (a trailing NUL ends the last item), as /proc's lists are. */
export function splitNul(raw: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      out.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) out.push(raw.subarray(start));
  return out;
}

/** The last component of a path (what follows the last `/`). */
export function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

/** A `char**` (NULL-terminated) and the NUL-terminated strings it points to. */
export interface CstrArray {
  /** The pointers, for a `buffer` parameter or `addr()`. */
  ptrs: BigUint64Array<ArrayBuffer>;
  /** The strings: keep the object referenced until the call has returned. */
  keep: Uint8Array[];
}

/** A `char**` for exec/spawn (argv, envp): strings are encoded, bytes taken as they are. */
export function cstrArray(items: readonly (string | Uint8Array)[]): CstrArray {
  const keep = items.map((s) => cstr(s));
  const ptrs = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => {
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return { ptrs, keep };
}
