/**
 * tai64nlocal: turn a leading `@` + TAI64N stamp on each line into local time,
 * `YYYY-MM-DD HH:MM:SS.NNNNNNNNN`, as 0.76 does (every hex digit after `@` is consumed; the
 * last 8 are the nanoseconds; the first other byte is kept). Where 0.76's localtime() fails
 * (too few/many digits, uppercase hex, a bare `@`: the Debian binary then segfaults), the
 * stamp is passed through unchanged. EOF inside a stamp drops the partial stamp (0.76).
 * @module
 */
import { EINTR } from "../lib/errors.ts";
import { libc } from "../lib/libc.ts";
import { Output } from "../lib/multilog/output.ts";
import * as sys from "../lib/multilog/sys.ts";
import { TAI_OFFSET } from "../lib/tai64n.ts";

const IN = 65536;
const OUT = 4 * IN;
const M64 = (1n << 64n) - 1n;

/** Entry point. */
export function main(_args: string[]): number {
  const input = new Uint8Array(IN);
  const out = new Output(OUT);
  const byte = (c: number): void => out.byte(c);
  const text = (s: string): void => {
    for (let i = 0; i < s.length; i++) byte(s.charCodeAt(i));
  };

  // the stamp being read: its digits (kept to pass it through), and 0.76's two accumulators
  let digits = new Uint8Array(64);
  let ndigits = 0;
  let secs = 0n; // time_t, 64 bits, wrapping
  let nano = 0; // unsigned long, at most 32 bits used
  const tm = new Int32Array(14); // struct tm (56 bytes)
  const t = new BigInt64Array(1);

  const convert = (): void => {
    t[0] = BigInt.asIntN(64, secs - TAI_OFFSET);
    if (libc().localtime_r(t, tm) === null) {
      // 0.76 would crash here: keep the line as it was
      byte(64);
      for (let i = 0; i < ndigits; i++) byte(digits[i]);
      return;
    }
    const year = BigInt(1900 + tm[5]);
    text(String(year < 0n ? year & M64 : year)); // fmt_ulong of an int
    const two = (v: number): string => String(v).padStart(2, "0");
    text(`-${two(1 + tm[4])}-${two(tm[3])} ${two(tm[2])}:${two(tm[1])}:${two(tm[0])}.`);
    text(String(nano).padStart(9, "0"));
  };

  const LINE = 0; // at the start of a line
  const STAMP = 1; // inside `@` + hex digits
  const REST = 2; // copying the rest of the line
  let state = LINE;
  for (;;) {
    out.flush();
    const n = sys.read(0, input);
    if (n < 0) {
      if (sys.lastErr() === EINTR) continue;
      return 111;
    }
    if (n === 0) return 0;
    let pos = 0;
    while (pos < n) {
      if (state === REST) {
        const nl = input.indexOf(10, pos);
        const whole = nl >= 0 && nl < n;
        const end = whole ? nl + 1 : n;
        out.append(input.subarray(pos, end));
        if (whole) state = LINE;
        pos = end;
        continue;
      }
      const c = input[pos++];
      if (state === LINE) {
        if (c === 64) {
          state = STAMP;
          secs = 0n;
          nano = 0;
          ndigits = 0;
          continue;
        }
        byte(c);
        if (c !== 10) state = REST;
        continue;
      }
      // STAMP
      let u = c - 48;
      if (u < 0 || u >= 10) {
        u = c - 97;
        if (u < 0 || u >= 6) {
          convert();
          byte(c);
          state = c === 10 ? LINE : REST;
          continue;
        }
        u += 10;
      }
      secs = BigInt.asIntN(64, (secs << 4n) + BigInt(Math.floor(nano / 0x10000000)));
      nano = (nano % 0x10000000) * 16 + u;
      if (ndigits === digits.length) {
        const bigger = new Uint8Array(digits.length * 2);
        bigger.set(digits);
        digits = bigger;
      }
      digits[ndigits++] = c;
    }
  }
}
