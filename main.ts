/**
 * The multi-call entry: the program is the basename of the name this was invoked by (a symlink
 * to the launcher, which passes that name as the first argument, or to the compiled binary), or
 * the first argument when invoked as `daemontools` (busybox style). Only the invoked program's
 * module is loaded (the table: lib/programs.ts).
 * @module
 */
import { basename, decode, splitNul } from "./lib/bytes.ts";
import { launched, takeLaunch } from "./lib/launch.ts";
import { fatal, line, writeErr } from "./lib/msg.ts";
import {
  isLink,
  isProgram,
  loadNamed,
  loadProgram,
  type Main,
  moduleUrl,
  PROGRAMS,
} from "./lib/programs.ts";

/** This process's command line as the kernel holds it, each word decoded losslessly. */
function cmdline(): string[] {
  try {
    return splitNul(Deno.readFileSync("/proc/self/cmdline")).map(decode);
  } catch {
    return [];
  }
}

function invokedAs(): string {
  const mod = basename(decodeURIComponent(new URL(Deno.mainModule).pathname));
  if (mod !== "main.ts") return mod;
  // compiled binary: the kernel keeps the link name in argv[0]
  return basename(cmdline()[0] ?? "");
}

/**
 * The program's arguments as bytes (lib/bytes.ts strings): the last `Deno.args.length` words of
 * the command line (under the launcher it is `deno run ... LINK ARGS`, compiled `LINK ARGS`).
 * Deno decodes arguments as UTF-8 and puts U+FFFD for every byte that is not, so arguments
 * without U+FFFD are exactly their bytes already; only when one has it is /proc read (which
 * costs milliseconds of start-up).
 */
function rawArgs(): string[] {
  const args = Deno.args;
  if (!args.some((a) => a.includes("\uFFFD"))) return args;
  const words = cmdline();
  return words.length >= args.length ? words.slice(words.length - args.length) : args;
}

/** Run the program this process was invoked as. */
export async function dispatch(): Promise<void> {
  takeLaunch();
  let args = rawArgs();
  let name: string;
  if (launched()) {
    // scripts/launcher.pl puts the name it was invoked by first
    name = basename(args[0] ?? "");
    args = args.slice(1);
  } else name = invokedAs();
  if (!isProgram(name) && args.length > 0 && isProgram(basename(args[0]))) {
    name = basename(args[0]);
    args = args.slice(1);
  }
  if (!isProgram(name)) {
    writeErr(line("daemontools", "usage", "daemontools program [arg ...]"));
    writeErr(`daemontools: programs: ${PROGRAMS.join(" ")}\n`);
    Deno.exit(100);
  }
  const prog = name;
  const onError = (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    fatal(prog, `internal error: ${msg.split("\n")[0]}`);
  };
  globalThis.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    onError(ev.reason);
  });
  globalThis.addEventListener("error", (ev) => {
    ev.preventDefault();
    onError(ev.error);
  });
  try {
    // svscan re-executes itself for a small heap: before loading its modules, not after
    if (prog === "svscan") {
      (await import(moduleUrl("lib/svscan/heap"))).leanHeap();
    }
    const own = loadProgram(prog);
    // the programs of ours a chain may run next load in the same round as this one
    if (isLink(prog)) loadNamed(args);
    const mod = (await own) as { main: Main };
    const code = await mod.main(args);
    if (typeof code === "number") Deno.exit(code);
  } catch (e) {
    onError(e);
  }
}

if (import.meta.main) await dispatch();
