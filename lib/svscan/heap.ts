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
import { cat, cstr, cstrArray, decode, encode, splitNul, startsWith } from "../bytes.ts";
import { launched, setEnviron } from "../launch.ts";
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

/**
 * Either re-execute this process with the flag (does not return on success) or, in the
 * re-executed process, put DENO_V8_FLAGS back as the caller had it. Arguments and environment
 * go over as the bytes they are, in their order.
 */
export function leanHeap(): void {
  if (done) return; // once per process (main.ts calls it before loading svscan)
  done = true;
  // the launcher passes the flag on the command line (and keeps the caller's environment)
  if (launched()) return;
  const env = procList("environ");
  if (env === undefined) return;
  const mark = env.map((e) => valueOf(e, MARK)).find((v) => v !== undefined);
  if (mark !== undefined) {
    setEnviron(callerEnv(env, mark));
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
  const a = cstrArray(argv);
  const e = cstrArray(next);
  libc().signal(SIGPIPE, SIG_DFL); // Deno ignores SIGPIPE; a new runtime sets its own
  const exe = cstr("/proc/self/exe");
  sys(NR.execve, addr(exe), addr(a.ptrs), addr(e.ptrs));
  // exec failed: carry on with the default heap (the vectors stay referenced until here)
  void [a.keep, e.keep];
}

/**
 * The environment svscan was started with, for its services: every entry as the caller gave
 * it, in order, without what {@linkcode leanHeap} added (`mark`: the marker's value).
 */
function callerEnv(env: Uint8Array[], mark: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const entry of env) {
    if (valueOf(entry, MARK) !== undefined) continue;
    if (valueOf(entry, FLAGS) !== undefined) {
      if (mark[0] === 0x2b) out.push(cat(`${FLAGS}=`, mark.subarray(1)));
      continue;
    }
    out.push(entry);
  }
  return out;
}
