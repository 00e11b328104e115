/**
 * The multi-call entry: the program is the basename of the name this was
 * invoked by (a symlink to the launcher or to the compiled binary), or the
 * first argument when invoked as `daemontools` (busybox style). Only the
 * invoked program's module is loaded.
 * @module
 */
import { writeErr } from "./lib/msg.ts";

/** Every program this executable can be. */
export const PROGRAMS = [
  "envdir",
  "envuidgid",
  "fghack",
  "multilog",
  "pgrphack",
  "readproctitle",
  "setlock",
  "setuidgid",
  "softlimit",
  "supervise",
  "svc",
  "svok",
  "svscan",
  "svscanboot",
  "svstat",
  "svwait",
  "tai64n",
  "tai64nlocal",
] as const;

/**
 * Extension of our modules where this one runs: `.ts` from the sources, `.js` from the bundle
 * scripts/build.sh makes (same layout: `cmd/NAME.js`, `lib/NAME.js` beside `main.js`, and
 * shared chunks beside it too, so a URL built here is right from either).
 */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/** URL of one of our modules (`cmd/svc`, `lib/svscan_v8`), for a dynamic import. */
export function moduleUrl(path: string): string {
  // a URL computed at run time: a literal import would put every program in the start-up graph
  return new URL(`./${path}${EXT}`, import.meta.url).href;
}

/**
 * The chain loaders: run as the next link of a chain of ours, their effect is applied in the
 * same process (lib/exec.ts).
 */
export const LINKS = [
  "envdir",
  "envuidgid",
  "fghack",
  "pgrphack",
  "setlock",
  "setuidgid",
  "softlimit",
] as const;

const loading = new Map<string, Promise<unknown>>();

/**
 * Programs of ours a chain may run in its own process: all but readproctitle, which writes into
 * its own argv memory and so must have its own command line.
 */
export function chainable(name: string): boolean {
  return isProgram(name) && name !== "readproctitle";
}

/**
 * Start importing every program of ours named among `words` (a chain's command line), all in
 * one round; the result settles once all of them have.
 */
export function loadNamed(words: readonly string[]): Promise<unknown> {
  const want = new Set(words.map(basename).filter(chainable));
  return Promise.allSettled([...want].map(loadProgram));
}

/** Import program `name`'s module (once per process: later calls share the promise). */
export function loadProgram(name: string): Promise<unknown> {
  let p = loading.get(name);
  if (!p) {
    p = import(moduleUrl(`cmd/${name}`));
    p.catch(() => {}); // a failed preload is reported (or worked around) when used
    loading.set(name, p);
  }
  return p;
}

/** Signature every `cmd/NAME.ts` exports as `main`. A number is the exit code. */
export type Main = (args: string[]) => number | void | Promise<number | void>;

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

function invokedAs(): string {
  const mod = basename(decodeURIComponent(new URL(Deno.mainModule).pathname));
  if (mod !== "main.ts") return mod;
  // compiled binary: the kernel keeps the link name in argv[0]
  const cmdline = Deno.readFileSync("/proc/self/cmdline");
  const end = cmdline.indexOf(0);
  return basename(new TextDecoder().decode(cmdline.subarray(0, end < 0 ? undefined : end)));
}

function isProgram(name: string): name is typeof PROGRAMS[number] {
  return (PROGRAMS as readonly string[]).includes(name);
}

/** Run the program this process was invoked as. */
export async function dispatch(): Promise<void> {
  let name = invokedAs();
  let args = Deno.args;
  if (!isProgram(name) && args.length > 0 && isProgram(basename(args[0]))) {
    name = basename(args[0]);
    args = args.slice(1);
  }
  if (!isProgram(name)) {
    writeErr(
      `daemontools: usage: daemontools program [arg ...]\n` +
        `daemontools: programs: ${PROGRAMS.join(" ")}\n`,
    );
    Deno.exit(100);
  }
  const prog = name;
  const onError = (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    writeErr(`${prog}: fatal: internal error: ${msg.split("\n")[0]}\n`);
    Deno.exit(111);
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
    // a URL built at run time: a plain template literal makes Deno preload every cmd/*.ts
    const own = loadProgram(prog);
    // the programs of ours a chain may run next load in the same round as this one
    if ((LINKS as readonly string[]).includes(prog)) loadNamed(args);
    const mod = (await own) as { main: Main };
    const code = await mod.main(args);
    if (typeof code === "number") Deno.exit(code);
  } catch (e) {
    onError(e);
  }
}

if (import.meta.main) await dispatch();
