/**
 * readproctitle L... D: show the most recent bytes of stdin in this
 * process's command line, so `ps` displays them. D (≥ 5 bytes) is
 * overwritten with dots at once; each byte read (NULs dropped) shifts D
 * left by one and lands at its end, keeping D's first 3 bytes as `...`
 * (lib/proctitle.ts, shared with svscan, which shows its errors in its own
 * title under svscanboot). EOF → exit 0; read error → exit 111.
 * @module
 */
import { encode } from "../lib/bytes.ts";
import { ProcTitle } from "../lib/proctitle.ts";

/** Entry point. */
export async function main(args: string[]): Promise<number> {
  if (args.length === 0) return 100;
  // D's length in bytes, as the kernel holds it (an argument decoded losslessly encodes back)
  const d = encode(args[args.length - 1]);
  if (d.length < 5) return 100;
  const title = new ProcTitle(d);
  const chunk = new Uint8Array(4096);
  while (true) {
    let n: number | null;
    try {
      n = await Deno.stdin.read(chunk);
    } catch {
      return 111;
    }
    if (n === null) return 0;
    title.add(chunk.subarray(0, n));
  }
}
