#!/bin/bash
# The logger's own CPU, per thread, over a cold pass (MB, default 200) through a fresh svscan tree:
# svscan's process for a hosted logger, the multilog process for the opt-out. A service `cat`s
# that many MB of 100-byte lines (`x` x 99) into `multilog t s16777215 n5 ./main` once the bench
# writes to a FIFO; /proc/PID/task/*/stat is read before and after (CPU-cs, user and system).
# The end is polled every 0.5 s: a `tail | grep` forked every 10 ms beside the logger raised a
# hosted logger's CPU by 25-35 % (docs/svscan.md); the logger is idle once END is written.
#
#   bash bench/logger_threads.sh BIN hosted|process           one pass, one line per thread
#   bash bench/logger_threads.sh ROUNDS BIN_A MODE_A BIN_B MODE_B
#                                  interleaved passes; medians of the total (all threads)
#
# MB=n makes each pass n MB: passes of two sizes split what a pass costs per MB
# from what it costs once. MODE hosted-tmpfs is hosted with log/supervise a symlink into
# /dev/shm (the staging file log/supervise/hosted-input then lives on tmpfs; the log directory
# stays in WORK).
# BIN is a directory of program links (scripts/build.sh OUT SRC). The machine's speed drifts:
# compare A and B of one run only. WORK (default /tmp/dt-logger-threads) holds the tree.
set -u
W=${WORK:-/tmp/dt-logger-threads}
mkdir -p "$W"
MB=${MB:-200}
[ -s "$W/data.$MB" ] || yes "$(printf 'x%.0s' $(seq 99))" | head -c "${MB}000000" >"$W/data.$MB"

pass() { # BIN MODE: "THREAD user U sys S" lines
  local bin=$1 mode=$2 d=$W/tree.$2 shm=/dev/shm/${W##*/} sv p
  local path=$bin:/usr/bin:/bin
  rm -rf "$d" && mkdir -p "$d/flood/log"
  rm -f "$W/go" && mkfifo "$W/go"
  printf '#!/bin/sh\nread x < %s/go\ncat %s/data.%s\necho END\nexec sleep 100000\n' "$W" "$W" "$MB" >"$d/flood/run"
  printf '#!/bin/sh\nexec multilog t s16777215 n5 ./main\n' >"$d/flood/log/run"
  chmod +x "$d/flood/run" "$d/flood/log/run"
  [ "$mode" = process ] && touch "$d/.svscan-no-hosted-loggers"
  if [ "$mode" = hosted-tmpfs ]; then
    rm -rf "$shm" && mkdir -p "$shm"
    ln -s "$shm" "$d/flood/log/supervise"
  fi
  PATH=$path setsid "$bin/svscan" "$d" >/dev/null 2>&1 &
  sv=$!
  for _ in $(seq 300); do
    PATH=$path svok "$d/flood/log" 2>/dev/null && [ -s "$d/flood/log/supervise/status" ] && break
    sleep 0.1
  done
  sleep 1.5
  p=$sv
  # the logger's pid from its status (svscan's own when hosted), not a command line other runs share
  [ "$mode" = process ] && p=$(PATH=$path svstat "$d/flood/log" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
  snap() {
    for t in /proc/$p/task/*; do
      echo "$(tr ' ' _ <"$t/comm") $(cut -d')' -f2- "$t/stat" | awk '{print $12, $13}')"
    done | awk '{u[$1]+=$2; s[$1]+=$3} END {for (k in u) print k, u[k], s[k]}' | sort
  }
  snap >"$W/before"
  echo >"$W/go"
  for _ in $(seq 240); do
    tail -c 20 "$d/flood/log/main/current" 2>/dev/null | grep -q ' END$' && break
    sleep 0.5
  done
  snap >"$W/after"
  join "$W/before" "$W/after" | awk '{printf "%s user %d sys %d\n", $1, $4 - $2, $5 - $3}'
  kill "$sv" # svscan's TERM stops the service and its logger first
  wait "$sv" 2>/dev/null
  rm -rf "$shm"
}

if [ $# -eq 2 ]; then
  pass "$1" "$2"
  exit
fi
rounds=$1
: >"$W/ab"
for _ in $(seq "$rounds"); do
  echo "A $(pass "$2" "$3" | awk '{t += $3 + $5} END {print t}')" >>"$W/ab"
  echo "B $(pass "$4" "$5" | awk '{t += $3 + $5} END {print t}')" >>"$W/ab"
done
for k in A B; do
  grep "^$k" "$W/ab" | awk '{print $2}' | sort -n | tr '\n' ' ' |
    awk -v k="$k" '{n = split($0, a, " "); printf "%s median %s CPU-cs (all: %s)\n", k, a[int((n + 1) / 2)], $0}'
done
