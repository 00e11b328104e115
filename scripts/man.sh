#!/bin/sh
# man.sh OUTDIR SRCDIR: the man pages man/*.8 with the version (VERSION) and the date of the
# latest pkg/debian/changelog entry filled in (@VERSION@, @DATE@), written to OUTDIR.
set -eu
out=$1
src=$(cd "$2" && pwd)
version=$(tr -d ' \n' <"$src/VERSION")
stamp=$(sed -n 's/^ -- .*>  //p' "$src/pkg/debian/changelog" | head -n 1)
date=$(date -u -d "$stamp" +%Y-%m-%d)
mkdir -p "$out"
for page in "$src"/man/*.8; do
  sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" "$page" >"$out/${page##*/}"
done
