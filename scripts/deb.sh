#!/bin/sh
# deb.sh OUTDIR SRCDIR: the Debian package daemontools-deno, OUTDIR/daemontools-deno_V_ARCH.deb,
# built from the tree with dpkg-deb, offline. DENO names the deno binary: it bundles the sources
# and is shipped as the runtime (/usr/lib/daemontools/deno). DEB_COMPRESS (dpkg-deb -Z: xz,
# gzip, zstd, none; default xz) and DEB_LEVEL (-z) choose the compression.
#
# The tree is installed with scripts/install.sh into a staging root (PREFIX=<root>/usr), then
# every file naming the staging root is made to name / instead (the launcher's runtime and
# entry paths), so nothing depends on the launcher's exact form.
#
# Reproducible: the same tree and deno give the same bytes. Times are SOURCE_DATE_EPOCH (by
# default the date of the latest pkg/debian/changelog entry), owners root, the bundle is made
# from inside the staging tree (its comments name relative paths only), gzip without names or
# times, dpkg-deb sorts the archive.
set -eu
out=$(mkdir -p "$1" && cd "$1" && pwd)
src=$(cd "$2" && pwd)
pkg=daemontools-deno
version=$(tr -d ' \n' <"$src/VERSION")
changelog=$src/pkg/debian/changelog
top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
if [ "$top" != "$version" ]; then
  echo "deb: VERSION says $version but pkg/debian/changelog's latest entry is $top" >&2
  exit 1
fi
stamp=$(sed -n 's/^ -- .*>  //p' "$changelog" | head -n 1)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -u -d "$stamp" +%s)}
export SOURCE_DATE_EPOCH
case $DENO in /*) deno=$DENO ;; *) deno=$(command -v "$DENO") ;; esac
arch=$(dpkg --print-architecture)
deb=$out/${pkg}_${version}_${arch}.deb

work=$out/.work
root=$work/root
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
lib=$root/usr/lib/daemontools
mkdir -p "$lib"
cp "$deno" "$lib/deno"
chmod 755 "$lib/deno"

# the launcher and links (no `deno compile`: the package ships the runtime, see
# docs/packaging.md), the sources, their bundle; run from inside the staging tree
if ! (cd "$lib" && DENO=$lib/deno DENORT_BIN='' LAUNCHER_ONLY=1 \
  sh "$src/scripts/install.sh" "$root/usr" "$src") >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  exit 1
fi
[ -x "$root/usr/bin/daemontools" ] || {
  echo "deb: install.sh wrote no $root/usr/bin/daemontools" >&2
  exit 1
}
if grep -q 'deno bundle failed' "$work/install.log"; then
  echo "deb: note: deno bundle failed (no esbuild in the Deno cache?): the package runs the sources" >&2
fi

# the staging root becomes /
find "$root" -type f ! -path "$lib/deno" -exec grep -lF "$root" {} + 2>/dev/null |
  while IFS= read -r f; do ROOT=$root perl -pi -e 's/\Q$ENV{ROOT}\E//g' "$f"; done
if left=$(find "$root" -type f ! -path "$lib/deno" -exec grep -lF -e "$root" -e "$src/" {} + 2>/dev/null); then
  echo "deb: build paths left in: $left" >&2
  exit 1
fi

# what install.sh puts beside the sources (the unit, docs/) goes where Debian keeps it
rm -rf "$lib/svscan.service" "$lib/docs"
doc=$root/usr/share/doc/$pkg
mkdir -p "$doc"
cp "$src"/docs/*.md "$doc/"
cp "$src/README.md" "$doc/README.md"
cp "$src/pkg/debian/copyright" "$doc/copyright"
cp "$changelog" "$doc/changelog"
# compressed as dh_compress does: the changelog, and documents over 4 kB
for f in "$doc"/*; do
  case ${f##*/} in copyright) continue ;; esac
  if [ "${f##*/}" = changelog ] || [ "$(stat -c %s "$f")" -gt 4096 ]; then gzip -9n "$f"; fi
done

# the systemd unit, for /usr/bin
mkdir -p "$root/lib/systemd/system"
{
  echo "# svscan on /etc/service (daemontools-deno): enabled by the package, see svscan(8)."
  sed -e '1,/^\[Unit\]/{/^\[Unit\]/!d}' -e '/^Documentation=file:/d' -e 's|/usr/local/|/usr/|g' \
    "$src/contrib/svscan.service"
} >"$root/lib/systemd/system/svscan.service"

mkdir -p "$root/usr/sbin"
cp "$src/pkg/update-service" "$root/usr/sbin/update-service"
chmod 755 "$root/usr/sbin/update-service"

man=$root/usr/share/man/man8
sh "$src/scripts/man.sh" "$man" "$src"
gzip -9n "$man"/*.8

mkdir -p "$root/usr/share/lintian/overrides"
cp "$src/pkg/debian/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"

# the scan directory, and where update-service keeps supervise state of services under /etc
mkdir -p "$root/etc/service" "$root/var/lib/supervise"

# control files
depends="libc6 (>= 2.34), libgcc-s1 (>= 3.3)"
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  mkdir -p "$work/shlibs/debian"
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$work/shlibs/debian/control"
  found=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$lib/deno" 2>/dev/null | sed -n 's/^shlibs:Depends=//p') || true
  [ -z "$found" ] || depends=$found
fi
chmod -R u+rwX,go+rX,go-w "$root"
mkdir -p "$root/DEBIAN"
size=$(du -s -k --apparent-size "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$src/pkg/debian/control.in" >"$root/DEBIAN/control"
for s in postinst prerm postrm; do
  cp "$src/pkg/debian/$s" "$root/DEBIAN/$s"
  chmod 755 "$root/DEBIAN/$s"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
  xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

rm -f "$deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" ${DEB_LEVEL:+-z"$DEB_LEVEL"} \
  --build "$root" "$deb" >/dev/null
echo "deb: $deb ($(du -h "$deb" | cut -f1), $(sed -n 's/^Installed-Size: //p' "$root/DEBIAN/control") kB installed)"
