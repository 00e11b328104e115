/**
 * `svstat -j` (JSON Lines) and `svstat -m` (Prometheus text exposition format 0.0.4) of the
 * reports of lib/svstat/read.ts; svscan's metrics file is the `-m` text. Field by field:
 * docs/status.md.
 *
 * Names are strings decoded losslessly (lib/bytes.ts): a byte that is not UTF-8 is a lone
 * surrogate U+DC80..U+DCFF. JSON writes it as the escape `\udcXX` (Python's
 * `json.loads(...)` then `os.fsencode` gives the byte back); a Prometheus label value cannot
 * hold it (UTF-8 only, no escape for bytes), so it becomes the four characters `\xHH`.
 * @module
 */
import type { Failure, Report } from "./read.ts";

/** A JSON string literal: `"`, `\`, control characters and lone surrogates escaped. */
export function jsonString(s: string): string {
  const out = s.replace(
    // control characters must be escaped in JSON: matching them is the point
    // deno-lint-ignore no-control-regex
    /[\uD800-\uDBFF][\uDC00-\uDFFF]|[\u0000-\u001f"\\\uD800-\uDFFF]/g,
    (c) => {
      if (c.length === 2) return c; // a pair: the character itself
      switch (c) {
        case '"':
          return '\\"';
        case "\\":
          return "\\\\";
        case "\n":
          return "\\n";
        case "\r":
          return "\\r";
        case "\t":
          return "\\t";
        case "\b":
          return "\\b";
        case "\f":
          return "\\f";
      }
      return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    },
  );
  return `"${out}"`;
}

const json = (v: number | boolean | null): string => v === null ? "null" : String(v);

/** One JSON line (no newline) for a report; `nowMs` dates `last_exit.seconds`. */
export function toJson(r: Report | Failure, nowMs: number): string {
  const dir = jsonString(r.dir);
  if ("error" in r) return `{"dir":${dir},"error":${jsonString(r.error)}}`;
  const str = (s: string | null) => s === null ? "null" : jsonString(s);
  const e = r.lastExit;
  const exit = e === null ? "null" : `{"code":${json(e.code)},"signal":${json(e.signal)},` +
    `"seconds":${Math.max(0, Math.floor(nowMs / 1000 - e.time))},"time":${e.time}}`;
  return `{"dir":${dir},"supervise":${r.supervise},"state":${str(r.state)},` +
    `"pid":${json(r.pid)},"seconds":${json(r.seconds)},"since":${json(r.since)},` +
    `"normally":${str(r.normally)},"want":${str(r.want)},"paused":${json(r.paused)},` +
    `"ready":${json(r.ready)},"last_exit":${exit},"starts":${json(r.starts)}}`;
}

/** A Prometheus label value: `\`, `"`, newline escaped; a non-UTF-8 byte as `\xHH`. */
export function labelValue(s: string): string {
  return s.replace(/[\\"\n\uDC80-\uDCFF]/g, (c) => {
    if (c === "\\") return "\\\\";
    if (c === '"') return '\\"';
    if (c === "\n") return "\\n";
    return "\\\\x" + (c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, "0");
  });
}

type Value = (r: Report) => number | boolean | null;

/** The metrics: name, type, help, value (null: no sample for that directory). */
const METRICS: [string, "gauge" | "counter", string, Value][] = [
  ["supervised", "gauge", "1 when a supervisor runs for the directory.", (r) => r.supervise],
  ["up", "gauge", "1 when ./run is up.", (r) => r.state === null ? null : r.state === "up"],
  ["pid", "gauge", "pid of ./run (0 when down).", (r) => r.state === null ? null : r.pid ?? 0],
  [
    "state_since_timestamp_seconds",
    "gauge",
    "Unix time ./run last started or exited.",
    (r) => r.since,
  ],
  ["normally_up", "gauge", "1 when the directory has no down file.", (r) => r.normally === "up"],
  ["want_up", "gauge", "1 when the supervisor wants ./run up.", (r) => wants(r, "up")],
  ["want_down", "gauge", "1 when the supervisor wants ./run down.", (r) => wants(r, "down")],
  ["paused", "gauge", "1 when ./run is paused (svc -p).", (r) => r.paused],
  ["ready", "gauge", "1 when ./run reported readiness.", (r) => r.ready],
  ["starts_total", "counter", "Starts of ./run since the supervisor began.", (r) => r.starts],
  [
    "starts_since_timestamp_seconds",
    "gauge",
    "Unix time the supervisor began counting starts.",
    (r) => r.startsSince,
  ],
  [
    "last_exit_code",
    "gauge",
    "Exit code of the last exit of ./run.",
    (r) => r.lastExit?.code ?? null,
  ],
  [
    "last_exit_signal",
    "gauge",
    "Signal that ended the last run of ./run.",
    (r) => r.lastExit?.signal ?? null,
  ],
  [
    "last_exit_timestamp_seconds",
    "gauge",
    "Unix time of the last exit of ./run.",
    (r) => r.lastExit?.time ?? null,
  ],
];

function wants(r: Report, w: "up" | "down"): boolean | null {
  return r.state === null ? null : r.want === w;
}

/** Prometheus text for all reports (empty for none): HELP and TYPE once per metric. */
export function toProm(reports: (Report | Failure)[]): string {
  if (reports.length === 0) return "";
  let out = "# HELP daemontools_status_error 1 when svstat could not read the directory.\n" +
    "# TYPE daemontools_status_error gauge\n";
  for (const r of reports) {
    out += `daemontools_status_error{dir="${labelValue(r.dir)}"} ${"error" in r ? 1 : 0}\n`;
  }
  const ok = reports.filter((r): r is Report => !("error" in r));
  for (const [name, type, help, value] of METRICS) {
    out += `# HELP daemontools_${name} ${help}\n# TYPE daemontools_${name} ${type}\n`;
    for (const r of ok) {
      const v = value(r);
      if (v === null) continue;
      out += `daemontools_${name}{dir="${labelValue(r.dir)}"} ${Number(v)}\n`;
    }
  }
  return out;
}
