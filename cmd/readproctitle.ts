/**
 * readproctitle L... D: show the most recent bytes of stdin in this
 * process's command line, so `ps` displays them (svscanboot pipes svscan's
 * errors here). D (≥ 5 bytes) is overwritten with dots at once; each byte
 * read (NULs dropped) shifts D left by one and lands at its end, keeping
 * D's first 3 bytes as `...`. EOF → exit 0; read error → exit 111.
 *
 * Deno cannot hand us its argv, but the kernel's view of it is plain
 * memory of this process: /proc/self/stat gives [arg_start, arg_end), and D
 * is the last string there. We overwrite those bytes in place, exactly as
 * the C program does, through an FFI view of that memory (no privileges
 * needed). When the memory does not hold D (unexpected layout) we still
 * consume stdin with the same exit codes but show nothing.
 * @module
 */
import { encode } from "../lib/bytes.ts";
import { procStat } from "../lib/proc.ts";

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

/** Entry point. */
export async function main(args: string[]): Promise<number> {
  if (args.length === 0) return 100;
  // D's length in bytes, as the kernel holds it (an argument decoded losslessly encodes back)
  const d = encode(args[args.length - 1]);
  if (d.length < 5) return 100;
  const buf = new Uint8Array(d.length);
  buf.fill(0x2e);
  const shown = argvView(d);
  shown?.set(buf);
  const chunk = new Uint8Array(4096);
  const keep = 3;
  while (true) {
    let n: number | null;
    try {
      n = await Deno.stdin.read(chunk);
    } catch {
      return 111;
    }
    if (n === null) return 0;
    let bytes = chunk.subarray(0, n);
    if (bytes.includes(0)) bytes = bytes.filter((b) => b !== 0);
    const room = buf.length - keep;
    if (bytes.length >= room) {
      buf.set(bytes.subarray(bytes.length - room), keep);
    } else if (bytes.length > 0) {
      buf.copyWithin(keep, keep + bytes.length);
      buf.set(bytes, buf.length - bytes.length);
    }
    shown?.set(buf);
  }
}
