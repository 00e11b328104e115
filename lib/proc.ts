/**
 * `/proc/PID/stat`, parsed in one place. The command name (field 2) may hold spaces and
 * parentheses, so the fields are counted from after its last `)`.
 * @module
 */

/** Clock ticks per second of the time fields (USER_HZ; 100 on Linux). */
export const HZ = 100;

/** The fields of `/proc/PID/stat` that this project reads. */
export interface ProcStat {
  /** Field 3: R, S, D, Z, T, X, ... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 5. */
  pgrp: number;
  /** Field 6. */
  session: number;
  /** Field 22: start time in clock ticks after boot. */
  startTicks: number;
  /** Fields 48 and 49: where the process's argv strings lie in its memory. */
  argStart: bigint;
  argEnd: bigint;
}

/** Field `n` (proc(5)'s 1-based numbering, n ≥ 3) from the text after the command name. */
function field(rest: string[], n: number): string {
  return rest[n - 3] ?? "0";
}

/** Parse the text of a `/proc/PID/stat` file. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(" ");
  return {
    state: field(rest, 3),
    ppid: Number(field(rest, 4)),
    pgrp: Number(field(rest, 5)),
    session: Number(field(rest, 6)),
    startTicks: Number(field(rest, 22)),
    argStart: BigInt(field(rest, 48)),
    argEnd: BigInt(field(rest, 49)),
  };
}

/** `/proc/PID/stat` of a process (`"self"`: this one), or undefined when it is gone. */
export function procStat(pid: number | "self"): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}
