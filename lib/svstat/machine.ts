/**
 * `svstat -j DIR...` and `svstat -m DIR...` (loaded by cmd/svstat.ts only for these): one
 * report per DIR, in argument order (lib/svstat/read.ts), as JSON Lines or Prometheus text
 * (lib/svstat/format.ts). Each DIR is entered with chdir as plain svstat does, so error texts
 * are plain svstat's. Exit code 111 when a DIR could not be read, else 0.
 * @module
 */
import { decode, encode } from "../bytes.ts";
import { fatalSys, sysText } from "../msg.ts";
import { openRead } from "../open.ts";
import { NR, sys, sysPath } from "../sys.ts";
import { toJson, toProm } from "./format.ts";
import { type Failure, inspect, type Report } from "./read.ts";

/** Run `svstat -j` (`mode` "-j") or `svstat -m` on `dirs`; `out` writes stdout. */
export function machine(
  mode: "-j" | "-m",
  dirs: string[],
  out: (b: Uint8Array<ArrayBuffer>) => void,
): number {
  const orig = openRead(".");
  if (orig < 0) fatalSys("svstat", "unable to open current directory", -orig);
  const now = Date.now();
  const reports: (Report | Failure)[] = [];
  for (const dir of dirs) {
    const r = sysPath(NR.chdir, dir);
    reports.push(
      r < 0 ? { dir, error: decode(sysText("unable to chdir", -r)) } : inspect(dir, "", now),
    );
    const back = sys(NR.fchdir, orig);
    if (back < 0) fatalSys("svstat", "unable to set directory", -back);
  }
  const text = mode === "-j" ? reports.map((r) => toJson(r, now) + "\n").join("") : toProm(reports);
  out(encode(text));
  return reports.some((r) => "error" in r) ? 111 : 0;
}
