/**
 * Can svscan host this logger? Decides from the text of a `log/run` file whether running it
 * could only exec our own multilog, under a strict grammar (docs/multilog.md, "Hosted
 * loggers"), and whether the programs it names resolve to this very executable. Anything the
 * grammar does not describe, even a harmless variant, is "not hostable": it runs as a process.
 *
 * Grammar (the file's bytes, decoded losslessly; lines end with `\n`):
 *
 * ```
 * file     = shebang { other } execline { other }      (other: blank and comment lines;
 *                                                         `exec 2>&1` lines only before execline)
 * shebang  = "#!" [sp] "/bin/sh" [sp "-e"] [sp] NL     (the kernel's view: at most `-e`)
 * blank    = [sp] NL
 * comment  = [sp] "#" any-bytes NL
 * redirect = [sp] "exec" sp "2>&1" [sp] [comment-tail] NL
 * execline = [sp] "exec" sp [setuidgid sp USER sp] [envdir sp DIR sp] program { sp WORD }
 *            [sp] [comment-tail] NL
 * setuidgid/envdir/program = "setuidgid" / "envdir" / "multilog", bare (found through PATH) or an
 *            absolute path whose last component is that name; unquoted
 * comment-tail = "#" any-bytes      (sh: `#` starts a comment only at the start of a word;
 *                                    inside a word it is an ordinary byte)
 * sp       = one or more spaces or tabs
 * WORD     = one or more of: a plain byte (anything but the specials below, space, tab, quotes),
 *            '...' (any bytes but `'` and newline: literal), "..." (any bytes but `"`, `$`,
 *            backquote, backslash and newline: literal)
 * specials (never unquoted) = $ ` \ * ? [ ] < > ; & | ( ) { } and `~` at the start of a word
 * ```
 *
 * No NUL, no carriage return anywhere (a DOS line end makes `multilog\r`, not multilog). A
 * last line without `\n` counts as a line. The last exec line must be the only exec of
 * multilog; anything after it other than blank and comment lines is refused (sh would never
 * run it, but a script that says more than it does is not "only exec multilog").
 * @module
 */
import { basename, cat, decode, encode } from "../bytes.ts";
import { isSelf } from "../chain/exec.ts";
import { S_IFMT, S_IFREG, stat } from "../stat.ts";
import { NR, sysPath } from "../sys.ts";

/** What a hostable `log/run` runs. */
export interface LogRun {
  /** `exec 2>&1` came first: multilog's stderr is the service's stdout */
  stderrToStdout: boolean;
  /** `setuidgid USER`: the account multilog runs as */
  user?: string;
  /** the `setuidgid` word as written (bare name or absolute path) */
  setuidgidPath?: string;
  /** the file `setuidgid` resolved to ({@linkcode hostable} sets it): the processor runs through it */
  setuidgidFile?: Uint8Array;
  /** `envdir DIR`: the directory read into the environment (the processor's) */
  envdir?: string;
  /** the `envdir` word as written */
  envdirPath?: string;
  /** the `multilog` word as written (bare name or absolute path) */
  multilogPath: string;
  /** multilog's arguments (its script), quotes removed */
  args: string[];
}

/** The grammar's verdict on a text. */
export type Parsed = { ok: true; run: LogRun } | { ok: false; reason: string };

const SPECIALS = new Set("$`\\*?[]<>;&|(){}");

/** One line cut into words; `raw` keeps each word's text with its quotes. */
interface Words {
  words: string[];
  quoted: boolean[];
}

/** sh's word splitting of one line, refusing anything that would expand; a string is a reason. */
function splitLine(line: string, allowRedirect: boolean): Words | string {
  const words: string[] = [];
  const quoted: boolean[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "#") break; // a comment from the start of a word
    if (allowRedirect && words.length === 1 && line.startsWith("2>&1", i)) {
      const e = i + 4;
      if (e === n || line[e] === " " || line[e] === "\t") {
        words.push("2>&1");
        quoted.push(true); // marks "not a plain word"
        i = e;
        continue;
      }
    }
    let w = "";
    let q = false;
    const start = i;
    while (i < n && line[i] !== " " && line[i] !== "\t") {
      const ch = line[i];
      if (ch === "'") {
        const e = line.indexOf("'", i + 1);
        if (e < 0) return "an unterminated quote";
        w += line.slice(i + 1, e);
        q = true;
        i = e + 1;
      } else if (ch === '"') {
        let e = i + 1;
        while (e < n && line[e] !== '"') {
          if ("$`\\".includes(line[e])) return `${line[e]} inside double quotes`;
          e++;
        }
        if (e === n) return "an unterminated quote";
        w += line.slice(i + 1, e);
        q = true;
        i = e + 1;
      } else {
        if (SPECIALS.has(ch)) return `the shell character ${ch}`;
        if (ch === "~" && i === start) return "~ at the start of a word";
        w += ch;
        i++;
      }
    }
    words.push(w);
    quoted.push(q);
  }
  return { words, quoted };
}

/** `name` itself, or an absolute path ending in `/name`. */
function commandIs(word: string, name: string): boolean {
  return word === name || (word.startsWith("/") && word.endsWith("/" + name));
}

/** The shebang lines accepted: `#!/bin/sh` and `#!/bin/sh -e`. */
const SHEBANG = /^#![ \t]*\/bin\/sh(?:[ \t]+-e)?[ \t]*$/;

/** Decide whether the text of a `log/run` file only execs multilog (see the module's grammar). */
export function parseLogRun(text: Uint8Array): Parsed {
  const no = (reason: string): Parsed => ({ ok: false, reason });
  if (text.length > 65536) return no("the file is larger than 64 KiB");
  if (text.includes(0)) return no("a NUL byte");
  if (text.includes(13)) return no("a carriage return");
  const lines = decode(text).split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0 || !SHEBANG.test(lines[0])) return no("no #!/bin/sh line");
  let stderrToStdout = false;
  let run: LogRun | undefined;
  for (let k = 1; k < lines.length; k++) {
    const at = (r: string): Parsed => no(`line ${k + 1}: ${r}`);
    const sw = splitLine(lines[k], run === undefined);
    if (typeof sw === "string") return at(sw);
    const { words, quoted } = sw;
    if (words.length === 0) continue; // blank or comment
    if (run !== undefined) return at("a command after the exec of multilog");
    if (words[0] !== "exec" || quoted[0]) return at("a command other than exec");
    if (words.length === 2 && words[1] === "2>&1" && quoted[1]) {
      stderrToStdout = true;
      continue;
    }
    if (words.includes("2>&1")) return at("a redirection");
    let j = 1;
    const plain = (w: number) => w < words.length && !quoted[w];
    const r: Partial<LogRun> = { stderrToStdout };
    if (plain(j) && commandIs(words[j], "setuidgid")) {
      if (j + 1 >= words.length) return at("setuidgid without an account");
      r.setuidgidPath = words[j];
      r.user = words[j + 1];
      j += 2;
    }
    if (plain(j) && commandIs(words[j], "envdir")) {
      if (j + 1 >= words.length) return at("envdir without a directory");
      r.envdirPath = words[j];
      r.envdir = words[j + 1];
      j += 2;
    }
    if (!plain(j) || !commandIs(words[j], "multilog")) {
      return at(j < words.length ? `exec of ${words[j]}, not multilog` : "exec without multilog");
    }
    r.multilogPath = words[j];
    r.args = words.slice(j + 1);
    run = r as LogRun;
  }
  return run === undefined ? no("no exec of multilog") : { ok: true, run };
}

/** How {@linkcode resolve} learns about files. */
export interface Resolver {
  /** true if `path` is a regular file sh would exec (exists, executable) */
  executable(path: Uint8Array): boolean;
  /** true if `path` is this project's program (same device and inode as this executable) */
  isOurs(path: Uint8Array): boolean;
}

/**
 * The file sh would run for command `word` with search path `path` (the environment svscan
 * gives `./run`; undefined: sh's default `/bin:/usr/bin`), if that file is ours: its path, or
 * a reason it is not hostable. A word with `/` must be absolute; a PATH element that is not
 * absolute (empty = `.`) is refused when the search reaches it (it would depend on the log
 * service's directory).
 */
export function resolve(
  word: string,
  path: Uint8Array | undefined,
  r: Resolver,
): { ok: true; path: Uint8Array } | { ok: false; reason: string } {
  const name = encode(word);
  const ours = (p: Uint8Array) =>
    r.isOurs(p)
      ? { ok: true as const, path: p }
      : { ok: false as const, reason: `${decode(p)} is not this project's ${basename(decode(p))}` };
  if (name.includes(47)) {
    if (name[0] !== 47) return { ok: false, reason: `${word} is a relative path` };
    if (!r.executable(name)) return { ok: false, reason: `${word} is not an executable file` };
    return ours(name);
  }
  const dirs = decode(path ?? encode("/bin:/usr/bin")).split(":");
  for (const d of dirs) {
    if (!d.startsWith("/")) {
      return { ok: false, reason: `PATH element ${d === "" ? "(empty)" : d} is not absolute` };
    }
    const cand = cat(encode(d), "/", name);
    if (r.executable(cand)) return ours(cand);
  }
  return { ok: false, reason: `${word} not found in PATH` };
}

/**
 * Both steps: the text's grammar, then every program it names (setuidgid, envdir, multilog)
 * resolved to ours. `path` is the PATH `./run` would get.
 */
export function hostable(
  text: Uint8Array,
  path: Uint8Array | undefined,
  r: Resolver,
): Parsed {
  const p = parseLogRun(text);
  if (!p.ok) return p;
  const words = [p.run.setuidgidPath, p.run.envdirPath, p.run.multilogPath];
  for (const [i, w] of words.entries()) {
    if (w === undefined) continue;
    const x = resolve(w, path, r);
    if (!x.ok) return x;
    if (i === 0) p.run.setuidgidFile = x.path;
  }
  return p;
}

/**
 * The real file system: a regular file with execute permission for this process (as root:
 * any x bit), and {@linkcode isSelf} (lib/chain/exec.ts) for "ours".
 */
export const systemResolver: Resolver = {
  executable(path) {
    const st = stat(path);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFREG) return false;
    return sysPath(NR.access, path, 1 /* X_OK */) === 0;
  },
  isOurs: isSelf,
};
