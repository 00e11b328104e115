#!/bin/sh
# install.sh PREFIX SRCDIR: the program (binary or launcher) and one symlink per program in
# PREFIX/bin. A launcher runs a copy of the sources kept in PREFIX/lib/daemontools; a
# project-local Deno is copied there too, so the install does not depend on the checkout.
set -eu
prefix=$1
src=$(cd "$2" && pwd)
lib=$prefix/lib/daemontools
mkdir -p "$prefix/bin" "$lib"
rm -rf "$lib/cmd" "$lib/lib"
cp -R "$src/main.ts" "$src/cmd" "$src/lib" "$lib/"
cp "$src/contrib/svscan.service" "$lib/svscan.service" # systemd unit: see docs/svscan.md
rm -rf "$lib/docs" && cp -R "$src/docs" "$lib/docs"
case $DENO in /*) deno=$DENO ;; *) deno=$(command -v "$DENO") ;; esac
case $deno in
"$src"/.tools/*)
  cp "$deno" "$lib/deno.new" && mv -f "$lib/deno.new" "$lib/deno"
  deno=$lib/deno
  ;;
esac
DENO=$deno JSDIR=$lib/js sh "$src/scripts/build.sh" "$prefix/bin" "$lib"
echo "install: done in $prefix/bin"
