/**
 * Buffered standard output for the stamping filters (tai64n, tai64nlocal): a write error
 * ends the program with exit 111 and no message, as 0.76's do.
 * @module
 */
import { writeAll } from "../sys.ts";

/** Write all of `b` to fd 1, retrying on EINTR; exit 111 on any other error. */
export function writeOut(b: Uint8Array): void {
  if (writeAll(1, b) !== 0) Deno.exit(111);
}

/** An output buffer of fixed size in front of fd 1. */
export class Output {
  readonly buf: Uint8Array;
  len = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  /** One byte. */
  byte(c: number): void {
    if (this.len === this.buf.length) this.flush();
    this.buf[this.len++] = c;
  }

  /** Bytes: copied when they fit the buffer, written through when larger than all of it. */
  append(b: Uint8Array): void {
    if (b.length > this.buf.length - this.len) {
      this.flush();
      if (b.length > this.buf.length) return writeOut(b);
    }
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Write out what is buffered. */
  flush(): void {
    writeOut(this.buf.subarray(0, this.len));
    this.len = 0;
  }
}
