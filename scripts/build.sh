#!/bin/sh
# build.sh OUTDIR SRCDIR: one compiled binary OUTDIR/daemontools when a runtime base (denort)
# is available, else a one-file launcher with the same dispatch (running a JavaScript bundle of
# the sources, written to JSDIR, default OUTDIR/.js); plus one symlink per program.
# DENO names the deno binary; DENORT_BIN, if set, the runtime base for `deno compile`;
# LAUNCHER_ONLY=1 skips any compile attempt (tests never depend on a runtime base); LAUNCHER=env
# writes the `#!/usr/bin/env -S deno run` launcher even where /usr/bin/perl is (docs/launcher.md).
set -eu
out=$1
src=$(cd "$2" && pwd)
case $DENO in /*) deno=$DENO ;; *) deno=$(command -v "$DENO") ;; esac
programs=$(sed -n '/^export const PROGRAMS/,/] as const/p' "$src/lib/programs.ts" | grep -o '"[a-z0-9]*"' | tr -d '"')
mkdir -p "$out"
rm -f "$out/daemontools"
denort=${DENORT_BIN:-}
if [ -z "$denort" ] && [ -x "$(dirname "$deno")/denort" ]; then denort=$(dirname "$deno")/denort; fi
compiled=no
if [ -n "$denort" ]; then
  if DENORT_BIN=$denort "$deno" compile -A --no-config --no-lock --quiet --include "$src/cmd" \
    --include "$src/lib" --output "$out/daemontools" "$src/main.ts"; then
    compiled=yes
  fi
elif [ "${LAUNCHER_ONLY:-}" != 1 ] && timeout 60 "$deno" compile -A --no-config --no-lock --quiet --include "$src/cmd" \
  --include "$src/lib" --output "$out/daemontools" "$src/main.ts" >/dev/null 2>&1; then
  compiled=yes # the runtime base was downloadable (or cached)
fi
if [ "$compiled" = yes ]; then
  echo "build: compiled one binary: $out/daemontools"
else
  rm -f "$out/daemontools"
  # the launcher runs a bundle of the sources when one can be made (JavaScript, a few files per
  # program: a chain of three links starts ~4 ms sooner than from the TypeScript sources), else
  # the sources themselves; JSDIR defaults to OUTDIR/.js. `deno bundle` fetches its esbuild
  # (pinned by the Deno version) from npm once; the system's CA store is trusted for that, as
  # the registry may be reached through a TLS proxy
  js=${JSDIR:-$out/.js}
  entry=file://$src/main.ts
  rm -rf "$js.new"
  if DENO_TLS_CA_STORE=${DENO_TLS_CA_STORE:-system,mozilla} timeout 300 "$deno" bundle --no-config \
    --quiet --platform deno --code-splitting --outdir "$js.new" \
    "$src/main.ts" "$src/lib/svscan/heap.ts" "$src/lib/svstat/machine.ts" "$src"/cmd/*.ts >/dev/null 2>&1 &&
    [ -f "$js.new/main.js" ] && [ -f "$js.new/cmd/svscan.js" ]; then
    rm -rf "$js"
    mv "$js.new" "$js"
    entry=file://$(cd "$js" && pwd)/main.js
  else
    rm -rf "$js.new"
    echo "build: deno bundle failed: the launcher runs the TypeScript sources"
  fi
  launcher=$src/scripts/launcher.pl
  [ -f "$launcher" ] || launcher=$(dirname "$0")/launcher.pl
  entrypath=${entry#file://}
  case "$deno$entrypath" in *\'*|*\\*|*'|'*|*'&'*) perl=no ;; *) perl=yes ;; esac
  if [ "${LAUNCHER:-perl}" = perl ] && [ "$perl" = yes ] && [ -x /usr/bin/perl ] && [ -f "$launcher" ]; then
    # the Perl launcher (perl-base is Essential in Debian): closed fds 0-2 and the exact
    # environment reach the program past the runtime (docs/launcher.md)
    sed -e "s|@DENO@|$deno|g" -e "s|@ENTRY@|$entrypath|g" "$launcher" >"$out/daemontools.new"
    mv -f "$out/daemontools.new" "$out/daemontools"
  else
    {
      echo "#!/usr/bin/env -S $deno run -A --no-config --no-lock --quiet"
      echo "// launcher: symlinks to this file dispatch on their own name (Deno.mainModule)"
      echo "import { dispatch } from \"$entry\";"
      echo "await dispatch();"
    } >"$out/daemontools"
  fi
  chmod 755 "$out/daemontools"
  # warm the code cache so the first run of each program starts fast
  "$deno" cache --no-config --no-lock --quiet "$src/main.ts" "$src"/cmd/*.ts 2>/dev/null || true
  echo "build: no runtime base for deno compile (set DENORT_BIN=/path/to/denort for one binary);"
  echo "build: wrote launcher $out/daemontools -> ${entry#file://} run by $deno"
fi
for p in $programs; do ln -sf daemontools "$out/$p"; done
echo "build: $(echo $programs | wc -w) program links in $out"
