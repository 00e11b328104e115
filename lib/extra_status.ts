/**
 * `supervise/extra`: what the supervisor knows beyond the 18-byte `supervise/status` (which
 * stays 0.76's, so Debian's svstat keeps reading it): readiness and a running `./finish`.
 * Written only for a service that has `notification-fd` or `finish`, always whole
 * (`extra.new` + rename), so a reader sees one version or the other.
 *
 * Format: ASCII lines `KEY VALUE...\n`, in any order; a reader ignores keys it does not know
 * (room for more, e.g. an exit history):
 * - `ready PID STAMP` — process PID (the pid in `status` while it runs) said it was ready at
 *   STAMP (TAI64N label as 24 lower-case hex digits, like `tai64n`'s without the `@`).
 * - `finish PID STAMP` — `./finish` runs as PID since STAMP (the service shows down meanwhile).
 *
 * An empty file means: not ready, no finish running.
 * @module
 */
import { decode, encode } from "./bytes.ts";
import { readSmall } from "./open.ts";
import { hex, type Tai64n, unpack } from "./tai64n.ts";

/** Name of the file inside `supervise/`. */
export const EXTRA_NAME = "extra";

/** A process and when the event happened. */
export interface Stamped {
  pid: number;
  stamp: Tai64n;
}

/** Decoded `supervise/extra`. */
export interface ExtraStatus {
  /** The process that reported readiness, and when (absent: not ready). */
  ready?: Stamped;
  /** `./finish` running, and since when (absent: none). */
  finish?: Stamped;
  /** Every line by key (the last one wins), known keys included: for later additions. */
  lines: Map<string, string>;
}

function unhex(s: string): Tai64n | undefined {
  if (!/^[0-9a-f]{24}$/.test(s)) return undefined;
  const b = new Uint8Array(12);
  for (let i = 0; i < 12; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return unpack(b, 0);
}

function stamped(v: string | undefined): Stamped | undefined {
  if (v === undefined) return undefined;
  const [p, s] = v.split(" ");
  const stamp = unhex(s ?? "");
  if (!/^[1-9][0-9]{0,9}$/.test(p) || !stamp) return undefined;
  return { pid: Number(p), stamp };
}

/** The bytes of `supervise/extra` for this state. */
export function encodeExtra(s: { ready?: Stamped; finish?: Stamped }): Uint8Array {
  let t = "";
  if (s.ready) t += `ready ${s.ready.pid} ${hex(s.ready.stamp)}\n`;
  if (s.finish) t += `finish ${s.finish.pid} ${hex(s.finish.stamp)}\n`;
  return encode(t);
}

/** Parse the file's bytes (lines that do not parse are skipped). */
export function decodeExtra(b: Uint8Array): ExtraStatus {
  const lines = new Map<string, string>();
  for (const l of decode(b).split("\n")) {
    const sp = l.indexOf(" ");
    if (sp > 0) lines.set(l.slice(0, sp), l.slice(sp + 1));
  }
  return { ready: stamped(lines.get("ready")), finish: stamped(lines.get("finish")), lines };
}

const buf = new Uint8Array(4096);

/**
 * Read `DIR/supervise/extra` (`dir` as given: relative to the cwd, or `.`). Undefined when
 * there is no such regular file (a supervisor without lifecycle files, or Debian's). Bounded:
 * one read of at most 4096 bytes, regular files only.
 */
export function readExtra(dir: string): ExtraStatus | undefined {
  const path = dir === "." ? `supervise/${EXTRA_NAME}` : `${dir}/supervise/${EXTRA_NAME}`;
  const b = readSmall(path, buf);
  return b === undefined ? undefined : decodeExtra(b);
}
