/**
 * Re-execute svscan once for a small heap ({@linkcode leanHeap}). V8's young generation grows
 * its semi-spaces (up to 16 MB each) while many objects survive, as when hundreds of services
 * start, and keeps them: that was ~23 kB of private memory per service at N = 500
 * (docs/svscan.md). Capping them at 1 MB (`--max-semi-space-size=1`) brings it to ~7 kB. V8
 * reads that flag only at start-up, so svscan re-executes itself once with DENO_V8_FLAGS
 * extended (one more runtime start, ~60 ms), then restores the environment its services
 * inherit. main.ts calls it before svscan's other modules are loaded.
 * @module
 */
import { cat, cstr, decode, encode, splitNul, startsWith } from "../bytes.ts";
import { libc, SIG_DFL, SIGPIPE } from "../libc.ts";
import { addr, NR, sys } from "../sys.ts";

const FLAG = "--max-semi-space-size=1";
const FLAGS = "DENO_V8_FLAGS";
/**
 * Marks the re-executed process; holds the caller's DENO_V8_FLAGS (`+VALUE`), or `-` when the
 * caller had none.
 */
const MARK = "DAEMONTOOLS_SVSCAN_V8";
let done = false;
let caller: string[] | undefined;

/** The NUL-separated items of a /proc/self file, as bytes (undefined: unreadable). */
function procList(name: string): Uint8Array[] | undefined {
  try {
    return splitNul(Deno.readFileSync(`/proc/self/${name}`));
  } catch {
    return undefined;
  }
}

/** Value of `NAME=` in an environment entry, or undefined for another name. */
function valueOf(entry: Uint8Array, name: string): Uint8Array | undefined {
  const prefix = encode(`${name}=`);
  return startsWith(entry, prefix) ? entry.subarray(prefix.length) : undefined;
}

/** A NULL-terminated `char**` of byte strings; keep the result referenced across the call. */
function vector(items: Uint8Array[]): { ptrs: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map((b) => cstr(b));
  const ptrs = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (ptrs[i] = addr(b)));
  return { ptrs, keep };
}

/**
 * Either re-execute this process with the flag (does not return on success) or, in the
 * re-executed process, put DENO_V8_FLAGS back as the caller had it. Arguments and environment
 * go over as the bytes they are, in their order.
 */
export function leanHeap(): void {
  if (done) return; // once per process (main.ts calls it before loading svscan)
  done = true;
  const env = procList("environ");
  if (env === undefined) return;
  const mark = env.map((e) => valueOf(e, MARK)).find((v) => v !== undefined);
  if (mark !== undefined) {
    Deno.env.delete(MARK);
    try {
      if (mark[0] === 0x2b /* + */) Deno.env.set(FLAGS, decode(mark.subarray(1)));
      else Deno.env.delete(FLAGS);
    } catch {
      // a value the runtime cannot hold: callerEnv() still has the bytes
    }
    return;
  }
  const i = env.findIndex((e) => valueOf(e, FLAGS) !== undefined);
  const orig = i < 0 ? undefined : valueOf(env[i], FLAGS)!;
  if (orig && decode(orig).includes("--max-semi-space-size")) return; // the caller chose
  const argv = procList("cmdline");
  if (argv === undefined) return;
  // a launcher that already passes `--v8-flags=...--max-semi-space-size...`: nothing to do
  if (
    argv.map(decode).some((a) => a.startsWith("--v8-flags=") && a.includes("max-semi-space-size"))
  ) {
    return;
  }
  const next = [...env];
  const flags = cat(`${FLAGS}=`, orig && orig.length > 0 ? cat(orig, `,${FLAG}`) : FLAG);
  if (i < 0) next.push(flags);
  else next[i] = flags;
  next.push(orig === undefined ? encode(`${MARK}=-`) : cat(`${MARK}=+`, orig));
  const a = vector(argv);
  const e = vector(next);
  libc().signal(SIGPIPE, SIG_DFL); // Deno ignores SIGPIPE; a new runtime sets its own
  const exe = cstr("/proc/self/exe");
  sys(NR.execve, addr(exe), addr(a.ptrs), addr(e.ptrs));
  // exec failed: carry on with the default heap (the vectors stay referenced until here)
  void [a.keep, e.keep];
}

/**
 * The environment svscan was started with, for its services: every entry as the caller gave
 * it (bytes decoded losslessly, in order), without what {@linkcode leanHeap} added. Taken from
 * /proc/self/environ once; undefined when that cannot be read.
 */
export function callerEnv(): string[] | undefined {
  if (caller) return caller;
  const env = procList("environ");
  if (env === undefined) return undefined;
  const mark = env.map((e) => valueOf(e, MARK)).find((v) => v !== undefined);
  const out: string[] = [];
  for (const entry of env) {
    if (mark !== undefined) {
      if (valueOf(entry, MARK) !== undefined) continue;
      if (valueOf(entry, FLAGS) !== undefined) {
        if (mark[0] === 0x2b) out.push(decode(cat(`${FLAGS}=`, mark.subarray(1))));
        continue;
      }
    }
    out.push(decode(entry));
  }
  return caller = out;
}
