/**
 * tai64n: prefix every input line with `@` + TAI64N + a space. The stamp of a line is the
 * time its first byte was read (one clock reading per read); output is flushed before each
 * read; a final partial line is stamped and copied without adding a newline. Read or write
 * error: exit 111 silently, like 0.76.
 * @module
 */
import { EINTR } from "../lib/errors.ts";
import { STAMP_LEN, stampNow } from "../lib/multilog/stamp.ts";
import * as sys from "../lib/multilog/sys.ts";

const IN = 65536;
const OUT = 2 * IN;

/** Entry point. */
export function main(_args: string[]): number {
  const input = new Uint8Array(IN + 1);
  const out = new Uint8Array(OUT);
  const stamp = new Uint8Array(STAMP_LEN);
  let olen = 0;
  let atStart = true;
  const put = (b: Uint8Array): void => {
    let off = 0;
    while (off < b.length) {
      const w = sys.write(1, b.subarray(off));
      if (w < 0) {
        if (sys.lastErr() === EINTR) continue;
        Deno.exit(111);
      }
      off += w;
    }
  };
  const flush = (): void => {
    put(out.subarray(0, olen));
    olen = 0;
  };
  for (;;) {
    flush();
    const n = sys.read(0, input.subarray(0, IN));
    if (n < 0) {
      if (sys.lastErr() === EINTR) continue;
      return 111;
    }
    if (n === 0) return 0;
    stampNow(stamp, 0);
    input[n] = 10; // sentinel
    let pos = 0;
    while (pos < n) {
      if (atStart) {
        if (olen + STAMP_LEN > OUT) flush();
        out.set(stamp, olen);
        olen += STAMP_LEN;
        atStart = false;
      }
      const nl = input.indexOf(10, pos);
      const end = nl < n ? nl + 1 : n;
      if (end - pos > OUT - olen) {
        flush();
        put(input.subarray(pos, end));
      } else {
        out.set(input.subarray(pos, end), olen);
        olen += end - pos;
      }
      atStart = nl < n;
      pos = end;
    }
  }
}
