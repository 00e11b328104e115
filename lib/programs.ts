/**
 * The table of programs this executable can be, and how their modules are found and loaded.
 * main.ts dispatches with it; the chain (lib/chain/) uses it to run a next link of ours in the
 * same process. It imports nothing but lib/bytes.ts, so loading it costs a program nothing.
 * @module
 */
import { basename } from "./bytes.ts";

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

/** One of {@linkcode PROGRAMS}. */
export type Program = typeof PROGRAMS[number];

/**
 * The chain loaders: run as the next link of a chain of ours, their effect is applied in the
 * same process (lib/chain/).
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

/** Signature every `cmd/NAME.ts` exports as `main`. A number is the exit code. */
export type Main = (args: string[]) => number | void | Promise<number | void>;

/** True when `name` is one of {@linkcode PROGRAMS}. */
export function isProgram(name: string): name is Program {
  return (PROGRAMS as readonly string[]).includes(name);
}

/** True when `name` is one of the chain loaders ({@linkcode LINKS}). */
export function isLink(name: string): boolean {
  return (LINKS as readonly string[]).includes(name);
}

/**
 * Programs of ours a chain may run in its own process: all but readproctitle, which writes into
 * its own argv memory and so must have its own command line.
 */
export function chainable(name: string): boolean {
  return isProgram(name) && name !== "readproctitle";
}

/** Our programs other than the links: when a chain ends in one of them it runs in-process. */
export const TERMINALS: readonly string[] = PROGRAMS.filter((p) => chainable(p) && !isLink(p));

/**
 * Extension of our modules where this one runs: `.ts` from the sources, `.js` from the bundle
 * scripts/build.sh makes.
 */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/**
 * The directory holding main.ts (or main.js). From the sources this module is `lib/programs.ts`;
 * in the bundle (`deno bundle --code-splitting`) it is part of `main.js` or of a shared chunk,
 * and esbuild writes both at the top of the output directory, beside `cmd/` and `lib/`.
 */
const ROOT = new URL(EXT === ".ts" ? "../" : "./", import.meta.url);

/** URL of one of our modules (`cmd/svc`, `lib/svscan/heap`), for a dynamic import. */
export function moduleUrl(path: string): string {
  // a URL computed at run time: a literal import would put every program in the start-up graph
  return new URL(`${path}${EXT}`, ROOT).href;
}

const loading = new Map<string, Promise<unknown>>();

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

/**
 * Start importing every program of ours named among `words` (a chain's command line), all in
 * one round; the result settles once all of them have.
 */
export function loadNamed(words: readonly string[]): Promise<unknown> {
  const want = new Set(words.map(basename).filter(chainable));
  return Promise.allSettled([...want].map(loadProgram));
}
