/**
 * tai64n: prefix every input line with `@` + TAI64N + a space. The stamp of a line is the
 * time its first byte was read (one clock reading per read); output is flushed before each
 * read; a final partial line is stamped and copied without adding a newline. Read or write
 * error: exit 111 silently, like 0.76.
 * @module
 */
import { EINTR } from "../lib/errors.ts";
import { STAMP_LEN, stampNow } from "../lib/multilog/stamp.ts";
import { Output } from "../lib/multilog/output.ts";
import * as sys from "../lib/multilog/sys.ts";

const IN = 65536;
const OUT = 2 * IN;

/** Entry point. */
export function main(_args: string[]): number {
  const input = new Uint8Array(IN + 1);
  const out = new Output(OUT);
  const stamp = new Uint8Array(STAMP_LEN);
  let atStart = true;
  for (;;) {
    out.flush();
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
        out.append(stamp);
        atStart = false;
      }
      const nl = input.indexOf(10, pos);
      const end = nl < n ? nl + 1 : n;
      out.append(input.subarray(pos, end));
      atStart = nl < n;
      pos = end;
    }
  }
}
