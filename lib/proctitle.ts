/**
 * readproctitle's title: the last argument D of this process's command line is overwritten
 * with dots at once, and every byte shown (NULs dropped) shifts D left by one and lands at its
 * end, keeping D's first 3 bytes as `...`, so `ps` shows the most recent bytes. Used by
 * cmd/readproctitle.ts (bytes from stdin) and by svscan (its own and its children's errors,
 * lib/svscan/title.ts).
 *
 * Deno cannot hand us its argv, but the kernel's view of it is plain memory of this process:
 * /proc/self/stat gives [arg_start, arg_end), and D is the last string there. Those bytes are
 * overwritten in place, exactly as the C program does, through an FFI view of that memory (no
 * privileges needed). When the memory does not hold D (unexpected layout) nothing is shown, and
 * the bytes are still taken.
 * @module
 */
import { procStat } from "./proc.ts";

/** How many of D's first bytes stay dots. */
const KEEP = 3;

/** The bytes of D inside this process's argv memory, or undefined. */
function argvView(d: Uint8Array): Uint8Array | undefined {
  const stat = procStat("self");
  if (stat === undefined) return undefined;
  try {
    const start = stat.argEnd - BigInt(d.length + 1);
    const ptr = Deno.UnsafePointer.create(start);
    if (ptr === null) return undefined;
    const view = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, d.length + 1));
    for (let i = 0; i < d.length; i++) if (view[i] !== d[i]) return undefined;
    if (view[d.length] !== 0) return undefined;
    return view.subarray(0, d.length);
  } catch {
    return undefined;
  }
}

/** The title D (at least 5 bytes: readproctitle exits 100 on less). */
export class ProcTitle {
  #buf: Uint8Array;
  #shown: Uint8Array | undefined;

  /** Take over D, the command line's last argument as the kernel holds it: all dots now. */
  constructor(d: Uint8Array) {
    this.#buf = new Uint8Array(d.length).fill(0x2e);
    this.#shown = argvView(d);
    this.#shown?.set(this.#buf);
  }

  /** Shift `bytes` in, as readproctitle does with each byte it reads. */
  add(bytes: Uint8Array): void {
    if (bytes.includes(0)) bytes = bytes.filter((b) => b !== 0);
    const buf = this.#buf;
    const room = buf.length - KEEP;
    if (bytes.length >= room) {
      buf.set(bytes.subarray(bytes.length - room), KEEP);
    } else if (bytes.length > 0) {
      buf.copyWithin(KEEP, KEEP + bytes.length);
      buf.set(bytes, buf.length - bytes.length);
    } else return;
    this.#shown?.set(buf);
  }
}
