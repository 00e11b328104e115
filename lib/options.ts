/**
 * Option parsing with the semantics of djb's `sgetopt` (daemontools 0.76),
 * shared by svc, softlimit and setlock:
 *
 * - options come before operands; clustered flags (`-udx`) are allowed;
 * - a letter followed by `:` in the spec takes an argument, either the rest
 *   of its word (`-m100`) or the next word (`-m 100`, taken verbatim even if
 *   it starts with `-` or is empty);
 * - parsing stops at the first word not starting with `-`, at a lone `-`
 *   (an operand, kept) and at any word starting with `--` (consumed: 0.76
 *   treats `--foo` exactly like `--`);
 * - a problem is reported as `PROG: illegal option -- X` or
 *   `PROG: option requires an argument -- X`; the caller then prints its own
 *   usage line and exits 100 (every 0.76 program stops at the first problem).
 * @module
 */
import { cat, encode } from "./bytes.ts";
import { writeErr } from "./msg.ts";

/** One parsed option: its letter and, for letters declared with `:`, its argument. */
export interface Opt {
  /** The option letter. */
  opt: string;
  /** The argument of an option declared with `:` in the spec. */
  arg?: string;
}

/** Why parsing stopped short. */
export interface OptProblem {
  /** `illegal`: letter not in the spec; `missing`: its argument is past the end. */
  kind: "illegal" | "missing";
  /** The offending letter. */
  letter: string;
}

/** Result of {@linkcode getopt}. */
export interface Parsed {
  /** Options in command-line order, duplicates kept. */
  opts: Opt[];
  /** The words after the options. */
  operands: string[];
  /** Set when parsing stopped at a bad option; `opts` then holds the options before it. */
  problem?: OptProblem;
}

/**
 * Parse `args` (program name excluded) against `spec`, a getopt string such
 * as `"udopchaitkx"` or `"a:c:d:"`. Pure: prints nothing.
 */
export function getopt(args: readonly string[], spec: string): Parsed {
  const opts: Opt[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const word = args[i];
    if (word.length < 2 || word[0] !== "-") break; // operand, or a lone "-"
    if (word[1] === "-") {
      i++; // "--" and anything starting with it end the options
      break;
    }
    for (let pos = 1; pos < word.length;) {
      // a letter is one code point (C sees its first byte; see optionProblemText)
      const letter = String.fromCodePoint(word.codePointAt(pos)!);
      pos += letter.length;
      const at = letter === ":" ? -1 : spec.indexOf(letter);
      if (at < 0) {
        return { opts, operands: args.slice(i), problem: { kind: "illegal", letter } };
      }
      if (spec[at + 1] !== ":") {
        opts.push({ opt: letter });
        continue;
      }
      if (pos < word.length) {
        opts.push({ opt: letter, arg: word.slice(pos) });
      } else if (i + 1 < args.length) {
        opts.push({ opt: letter, arg: args[++i] });
      } else {
        return { opts, operands: [], problem: { kind: "missing", letter } };
      }
      break;
    }
  }
  return { opts, operands: args.slice(i) };
}

/**
 * The exact bytes 0.76 prints for a problem: `PROG: illegal option -- X\n`
 * or `PROG: option requires an argument -- X\n`. C reports one byte, so a
 * non-ASCII letter is reported as the first byte of its encoding (an
 * argument byte that is not UTF-8, decoded losslessly, is that byte itself).
 */
export function optionProblemText(prog: string, p: OptProblem): Uint8Array {
  const what = p.kind === "illegal" ? "illegal option" : "option requires an argument";
  return cat(`${prog}: ${what} -- `, encode(p.letter).subarray(0, 1), "\n");
}

/**
 * {@linkcode getopt}, printing the problem line (if any) to stderr. Returns
 * undefined on a problem: the caller prints its usage line and exits 100.
 */
export function parseOptions(
  prog: string,
  args: readonly string[],
  spec: string,
): { opts: Opt[]; operands: string[] } | undefined {
  const p = getopt(args, spec);
  if (p.problem) {
    writeErr(optionProblemText(prog, p.problem));
    return undefined;
  }
  return { opts: p.opts, operands: p.operands };
}
