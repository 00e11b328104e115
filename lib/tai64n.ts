/**
 * TAI64N labels as daemontools writes them: seconds = 2^62 + 10 + unix time,
 * nanoseconds = microseconds * 1000 + 500 (0.76 takes gettimeofday).
 * @module
 */
import { CLOCK_REALTIME, libc } from "./libc.ts";

/** A TAI64N instant. `sec` is the full TAI64 label (2^62 + 10 + unix). */
export interface Tai64n {
  sec: bigint;
  nano: number;
}

/** TAI64 label of unix time 0 (2^62 + 10). */
export const TAI_OFFSET = (1n << 62n) + 10n;
const ts = new BigInt64Array(2);

/** Now, at microsecond precision like 0.76 (nanoseconds end in 500). */
export function now(): Tai64n {
  libc().clock_gettime(CLOCK_REALTIME, ts);
  const usec = Math.floor(Number(ts[1]) / 1000);
  return { sec: TAI_OFFSET + ts[0], nano: usec * 1000 + 500 };
}

/** Unix seconds of a TAI64N label. */
export function unixSeconds(t: Tai64n): bigint {
  return t.sec - TAI_OFFSET;
}

/** A label from unix seconds and nanoseconds. */
export function fromUnix(sec: bigint, nano = 0): Tai64n {
  return { sec: TAI_OFFSET + sec, nano };
}

/** Pack into 12 bytes (8 big-endian seconds, 4 big-endian nanoseconds) at `off`. */
export function pack(t: Tai64n, out: Uint8Array, off = 0): void {
  const v = new DataView(out.buffer, out.byteOffset + off, 12);
  v.setBigUint64(0, t.sec);
  v.setUint32(8, t.nano);
}

/** Unpack 12 bytes at `off`. */
export function unpack(b: Uint8Array, off = 0): Tai64n {
  const v = new DataView(b.buffer, b.byteOffset + off, 12);
  return { sec: v.getBigUint64(0), nano: v.getUint32(8) };
}

const HEX = "0123456789abcdef";

/** 24 lowercase hex digits, as in `@4000000037c219bf2ef02e94`. */
export function hex(t: Tai64n): string {
  const b = new Uint8Array(12);
  pack(t, b);
  let s = "";
  for (const x of b) s += HEX[x >> 4] + HEX[x & 15];
  return s;
}
