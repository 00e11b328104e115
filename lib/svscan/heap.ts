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
import { cstr } from "../bytes.ts";
import { cstrArray, libc, SIG_DFL, SIGPIPE } from "../libc.ts";
import { addr, NR, sys } from "../sys.ts";

const FLAG = "--max-semi-space-size=1";
/** Marks the re-executed process; holds the caller's DENO_V8_FLAGS (or "-" for none). */
const MARK = "DAEMONTOOLS_SVSCAN_V8";
let done = false;

/**
 * Either re-execute this process with the flag (does not return on success) or, in the
 * re-executed process, put DENO_V8_FLAGS back as the caller had it.
 */
export function leanHeap(): void {
  if (done) return; // once per process (main.ts calls it before loading svscan)
  done = true;
  const mark = Deno.env.get(MARK);
  if (mark !== undefined) {
    Deno.env.delete(MARK);
    if (mark === "-") Deno.env.delete("DENO_V8_FLAGS");
    else Deno.env.set("DENO_V8_FLAGS", mark);
    return;
  }
  const orig = Deno.env.get("DENO_V8_FLAGS");
  if (orig?.includes("--max-semi-space-size")) return; // the caller chose
  let argv: string[];
  try {
    const raw = Deno.readFileSync("/proc/self/cmdline");
    argv = new TextDecoder().decode(raw).split("\0");
    if (argv.at(-1) === "") argv.pop();
  } catch {
    return;
  }
  // a launcher that already passes `--v8-flags=...--max-semi-space-size...`: nothing to do
  if (argv.some((a) => a.startsWith("--v8-flags=") && a.includes("max-semi-space-size"))) return;
  const env = Deno.env.toObject();
  env.DENO_V8_FLAGS = orig ? `${orig},${FLAG}` : FLAG;
  env[MARK] = orig ?? "-";
  const a = cstrArray(argv);
  const e = cstrArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  libc().signal(SIGPIPE, SIG_DFL); // Deno ignores SIGPIPE; a new runtime sets its own
  const exe = cstr("/proc/self/exe");
  sys(NR.execve, addr(exe), addr(a.ptrs), addr(e.ptrs));
  // exec failed: carry on with the default heap (the vectors stay referenced until here)
  void [a.keep, e.keep];
}
