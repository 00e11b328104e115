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
trap 'rm -rf "$dir"' EXIT
