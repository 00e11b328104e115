/**
 * TAI64N stamps written straight into a byte buffer: `@` + 24 lowercase hex digits + a
 * space (26 bytes), from one clock reading at microsecond precision like 0.76's
 * gettimeofday (nanoseconds = usec * 1000 + 500). No strings, no allocation.
 * @module
 */
import { CLOCK_REALTIME, libc } from "../libc.ts";

/** Length of a stamp including its trailing space. */
export const STAMP_LEN = 26;

const ts = new BigInt64Array(2);
const HEX = new TextEncoder().encode("0123456789abcdef");

function hex8(out: Uint8Array, off: number, v: number): void {
  for (let i = 7; i >= 0; i--) {
    out[off + i] = HEX[v & 15];
    v >>>= 4;
  }
}

/** Write `@` + TAI64N(now) + ` ` at `out[off, off+26)`. */
export function stampNow(out: Uint8Array, off: number): void {
  libc().clock_gettime(CLOCK_REALTIME, ts);
  const sec = Number(ts[0]) + 10;
  const nano = Math.floor(Number(ts[1]) / 1000) * 1000 + 500;
  out[off] = 64;
  hex8(out, off + 1, 0x40000000 + Math.floor(sec / 4294967296));
  hex8(out, off + 9, sec >>> 0);
  hex8(out, off + 17, nano);
  out[off + 25] = 32;
}
