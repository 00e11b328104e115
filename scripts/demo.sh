#!/bin/sh
# demo.sh BINDIR: a small service under real supervision in a scratch directory.
set -eu
bin=$(cd "$1" && pwd)
PATH=$bin:$PATH
export PATH
dir=$(mktemp -d "${TMPDIR:-/tmp}/daemontools-demo.XXXXXX")
trap 'svc -dx "$dir/clock" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir "$dir/clock"
cat >"$dir/clock/run" <<'RUN'
#!/bin/sh
echo "clock: started as pid $$"
exec sleep 1000
RUN
chmod 755 "$dir/clock/run"
show() { echo "\$ $*"; "$@"; }
echo "# supervise $dir/clock (in the background)"
supervise "$dir/clock" &
sup=$!
i=0
until svok "$dir/clock" 2>/dev/null; do i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
until svstat "$dir/clock" | grep -q 'up (pid'; do sleep 0.05; done
show svstat "$dir/clock"
old=$(svstat "$dir/clock")
sleep 1.1 # supervise starts a service at most once a second
show svc -t "$dir/clock"
until [ "$(svstat "$dir/clock" | sed 's/ [0-9]* seconds.*//')" != "$(echo "$old" | sed 's/ [0-9]* seconds.*//')" ]; do sleep 0.05; done
show svstat "$dir/clock"
show svc -d "$dir/clock"
until svstat "$dir/clock" | grep -q ': down'; do sleep 0.05; done
show svstat "$dir/clock"
show svc -x "$dir/clock"
wait $sup
echo "# supervise exited with status $?"
show svstat "$dir/clock"

echo
echo "# svscan $dir/scan: every service and its logger supervised from one process"
mkdir -p "$dir/scan/hello/log"
cat >"$dir/scan/hello/run" <<'RUN'
#!/bin/sh
i=0
while :; do i=$((i + 1)); echo "hello $i"; sleep 0.2; done
RUN
cat >"$dir/scan/hello/log/run" <<'RUN'
#!/bin/sh
exec multilog t ./main
RUN
mkdir -p "$dir/scan/ticker"
cat >"$dir/scan/ticker/run" <<'RUN'
#!/bin/sh
exec sleep 1000
RUN
chmod 755 "$dir/scan/hello/run" "$dir/scan/hello/log/run" "$dir/scan/ticker/run"
svscan "$dir/scan" &
scan=$!
trap 'kill -TERM $scan 2>/dev/null; wait $scan 2>/dev/null; rm -rf "$dir"' EXIT
wait_until() { i=0; until "$@" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 400 ] || exit 1; sleep 0.05; done; }
has_lines() { [ "$(grep -c hello "$dir/scan/hello/log/main/current" 2>/dev/null)" -ge 3 ]; }
wait_until has_lines
show svstat "$dir/scan/hello" "$dir/scan/hello/log" "$dir/scan/ticker"
echo "\$ ps -o pid,rss,args --ppid $scan   # the children of the one svscan process"
ps -o pid,rss,args --ppid "$scan"
echo "\$ tai64nlocal < $dir/scan/hello/log/main/current | head -n 3"
tai64nlocal <"$dir/scan/hello/log/main/current" | head -n 3
echo "# svscan gets TERM: services stop first, then their loggers, then svscan exits"
kill -TERM "$scan"
wait "$scan"
echo "# svscan exited with status $?"
show svstat "$dir/scan/hello" "$dir/scan/ticker"
trap 'rm -rf "$dir"' EXIT
