#!/bin/sh
# deb-check.sh DEBDIR SRCDIR: checks of the package `make deb` built (CI runs them):
# 1. lintian: no error (warnings are printed; docs/packaging.md says why each remains);
# 2. its files (dpkg-deb -x): one link per program and a man page for each that renders without
#    a groff warning, the runtime, a launcher free of build paths, the unit, /etc/service;
#    maintainer scripts pass `sh -n`;
# 3. dpkg --root into a scratch root (scripts run chrootless, with DPKG_ROOT): install over an
#    /etc/service that holds a service and an /etc/inittab, then remove, then purge; the
#    service is kept throughout, the inittab entry and the unit's enablement come and go.
# Debian's daemontools on this machine is not touched.
set -eu
src=$(cd "$2" && pwd)
version=$(tr -d ' \n' <"$src/VERSION")
deb=$(ls "$1"/daemontools-deno_"$version"_*.deb)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/deb-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "deb-check: FAIL: $*" >&2
  exit 1
}
ok() { echo "deb-check: ok: $*"; }

# 1. lintian
if command -v lintian >/dev/null 2>&1; then
  lintian --pedantic --fail-on error "$deb" >"$tmp/lintian" 2>&1 || {
    cat "$tmp/lintian" >&2
    fail "lintian reports errors"
  }
  sed -n '/^[EWIP]: /p' "$tmp/lintian" | sort | uniq -c | sed 's/^/deb-check: lintian: /'
  ok "lintian: no error ($(grep -c '^W: ' "$tmp/lintian" || true) warnings)"
else
  fail "lintian is not installed (apt-get install lintian)"
fi

# 2. the files
x=$tmp/x
dpkg-deb -x "$deb" "$x"
dpkg-deb -e "$deb" "$tmp/control"
programs=$(for f in lib/programs.ts main.ts; do
  [ -f "$src/$f" ] && sed -n '/^export const PROGRAMS/,/]/p' "$src/$f"
done | grep -o '"[a-z0-9]*"' | tr -d '"' | sort -u)
[ -n "$programs" ] || fail "no PROGRAMS list found in lib/programs.ts or main.ts"
[ -x "$x/usr/bin/daemontools" ] || fail "no /usr/bin/daemontools"
links=$(find "$x/usr/bin" -type l -printf '%f\n' | sort)
[ "$links" = "$programs" ] || fail "links in /usr/bin ($(echo $links)) are not the programs ($(echo $programs))"
for p in $programs daemontools; do
  [ "$p" = daemontools ] || [ "$(readlink "$x/usr/bin/$p")" = daemontools ] || fail "/usr/bin/$p -> $(readlink "$x/usr/bin/$p")"
  page=$x/usr/share/man/man8/$p.8.gz
  [ -f "$page" ] || fail "no man page $p.8"
  warnings=$(zcat "$page" | groff -ww -man -Tutf8 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "$p.8: $warnings"
done
[ -f "$x/usr/share/man/man8/update-service.8.gz" ] && [ -x "$x/usr/sbin/update-service" ] ||
  fail "update-service or its page missing"
ok "$(echo $programs | wc -w) program links, each with a man page that groff -ww renders silently"
"$x/usr/lib/daemontools/deno" --version | head -n 1 | grep -q '^deno ' || fail "runtime does not run"
grep -q '/usr/lib/daemontools/deno' "$x/usr/bin/daemontools" || fail "launcher does not run /usr/lib/daemontools/deno"
if grep -rlF -e "$src/" -e "/.work/root" "$x" --exclude=deno; then fail "build paths in the files above"; fi
ok "runtime $("$x/usr/lib/daemontools/deno" --version | head -n 1), launcher and files free of build paths"
unit=$x/lib/systemd/system/svscan.service
grep -qx 'ExecStart=/usr/bin/svscanboot /etc/service' "$unit" || fail "unit ExecStart"
grep -qx 'KillMode=process' "$unit" && grep -qx 'WantedBy=multi-user.target' "$unit" || fail "unit"
[ -d "$x/etc/service" ] && [ -d "$x/var/lib/supervise" ] || fail "/etc/service or /var/lib/supervise"
[ -f "$x/usr/share/doc/daemontools-deno/copyright" ] || fail "copyright"
for s in postinst prerm postrm; do
  sh -n "$tmp/control/$s" || fail "$s: sh -n"
  ! command -v checkbashisms >/dev/null 2>&1 || checkbashisms "$tmp/control/$s" || fail "$s: bashisms"
done
ok "unit, /etc/service, copyright; maintainer scripts pass sh -n"

# 3. dpkg --root
r=$tmp/root
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers" "$r/etc/service/keep"
: >"$r/var/lib/dpkg/status"
printf 'id:2:initdefault:\n' >"$r/etc/inittab"
printf '#!/bin/sh\nexec sleep 100\n' >"$r/etc/service/keep/run"
chmod 755 "$r/etc/service/keep/run"
before=$(cd "$r/etc/service" && find . | sort && cat keep/run)
dpkgr() { dpkg --root="$r" --force-script-chrootless --force-depends --log=/dev/null "$@" >>"$tmp/dpkg.log" 2>&1 || {
  cat "$tmp/dpkg.log" >&2
  fail "dpkg $*"
}; }
kept() { [ "$(cd "$r/etc/service" && find . | sort && cat keep/run)" = "$before" ] || fail "/etc/service changed $1"; }
wants=$r/etc/systemd/system/multi-user.target.wants/svscan.service
dpkgr -i "$deb"
dpkg --root="$r" -s daemontools-deno | grep -qx 'Status: install ok installed' || fail "not installed"
[ "$(readlink "$r/usr/bin/svc")" = daemontools ] || fail "install: /usr/bin/svc"
[ "$(grep -c '^SV:123456:respawn:/usr/bin/svscanboot$' "$r/etc/inittab")" = 1 ] || fail "install: inittab entry"
[ "$(readlink "$wants")" = /lib/systemd/system/svscan.service ] || fail "install: unit not enabled"
kept "by the install"
ok "dpkg --root -i: programs, inittab entry, unit enabled, /etc/service kept"
dpkgr -r daemontools-deno
[ ! -e "$r/usr/bin/svc" ] || fail "remove: /usr/bin/svc left"
! grep -q 'svscanboot' "$r/etc/inittab" || fail "remove: inittab entry left"
kept "by the removal"
ok "dpkg --root -r: files and inittab entry gone, /etc/service kept"
dpkgr -P daemontools-deno
[ ! -e "$wants" ] || fail "purge: unit still enabled"
kept "by the purge"
ok "dpkg --root -P: unit disabled, /etc/service kept"
echo "deb-check: $deb: all checks passed"
