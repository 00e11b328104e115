#!/bin/sh
# CPU samples of a `perf record -g` file, by the system call each one is in (or, outside the
# kernel, by its leaf symbol; threads other than the main one prefixed with their name), so
# that two loggers' costs can be compared call by call (docs/svscan.md, "Figures (hosted
# loggers)"). Samples of the commands named in SKIP (default: cat sleep run) are left out:
# `perf record -p SVSCANPID` also follows the services svscan forks after it starts.
# Usage: sh bench/perf_by_call.sh perf.data [LINES]
#   e.g. perf record -F 4000 -g -p PID -o perf.data  (over the whole run, then ^C)
# JS functions get names only when the program runs with --v8-flags=--perf-basic-prof (added
# to the launcher's flags by hand); without it they are [unknown] as the runtime's own code is.
set -eu
data=$1
lines=${2:-30}
perf script -i "$data" 2>/dev/null | awk -v skip="${SKIP:-cat sleep run}" '
BEGIN { n = split(skip, s, " "); for (i = 1; i <= n; i++) skipped[s[i]] = 1 }
/^[^ \t]/ { if (n && keep) out(); n = 0; keep = !($1 in skipped); th = $1; next }
/^\t/ { n++; f[n] = $2; sub(/\+0x[0-9a-f]+$/, "", f[n]); next }
function out(   i, c) {
  c = ""
  for (i = 1; i <= n; i++) if (f[i] ~ /^(__x64_sys_|ksys_)/) { c = f[i]; break }
  if (c == "") for (i = 1; i <= n; i++) if (f[i] ~ /^(asm_exc_page_fault|asm_sysvec)/) { c = f[i]; break }
  if (c == "") c = "user:" f[1]
  if (th != "deno") c = th ":" c
  cnt[c]++; tot++
}
END {
  if (n && keep) out()
  for (c in cnt) printf "%7d %5.1f%% %s\n", cnt[c], 100 * cnt[c] / tot, c
  printf "%7d total\n", tot
}' | sort -rn | head -n "$lines"
