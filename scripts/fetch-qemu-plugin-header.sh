#!/usr/bin/env bash
# Fetch qemu-plugin.h for the installed qemu-system-arm into DESTDIR.
#
# Why: no Debian binary package ships the TCG plugin header, and a plugin must
# be built against the header of the QEMU that loads it (the API version is
# checked at load time).  The header comes from the Debian source package of the
# exact installed version.  Only the orig tarball is needed: the .dsc and
# .debian.tar.xz of the backports build may answer 404, which makes a plain
# `apt-get source` fail, so its failure is tolerated when the tarball arrived.
#
# Usage: scripts/fetch-qemu-plugin-header.sh DESTDIR
# Idempotent: a no-op when DESTDIR/qemu-plugin.h exists and its stamp names the
# installed version.  Never writes into the repository unless told to.
set -euo pipefail

say() { printf 'fetch-qemu-plugin-header: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DESTDIR"
dest=$1

version=$(dpkg-query -W -f='${Version}' qemu-system-arm 2>/dev/null) \
  || die "qemu-system-arm is not installed (run scripts/setup.sh)"
[ -n "$version" ] || die "qemu-system-arm is not installed (run scripts/setup.sh)"

stamp="$dest/qemu-plugin.h.version"
if [ -f "$dest/qemu-plugin.h" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  exit 0
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root for: $*"; fi
}

# The source suite that carries this version.  The QEMU we use comes from
# bookworm-backports (bookworm's own is 7.2 and lacks imx8mp-evk).
src_list=/etc/apt/sources.list.d/harness-bookworm-backports-src.list
# shellcheck source=lib/deb-src.sh
. "$(dirname "$0")/lib/deb-src.sh"

upstream=${version#*:}          # drop the epoch: 1:10.0.2+ds-2+... -> 10.0.2+ds-2+...
upstream=${upstream%-*}         # drop the Debian revision: -> 10.0.2+ds
tarball="qemu_${upstream}.orig.tar.xz"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {
  ( cd "$work" && apt-get source --download-only "qemu=$version" ) >"$work/apt.log" 2>&1 || true
  [ -f "$work/$tarball" ]
}

if ! fetch; then
  ensure_deb_src bookworm-backports "$src_list"
  say "apt-get update (for the qemu source package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$work/update.log" 2>&1 \
    || { cat "$work/update.log" >&2; die "apt-get update failed"; }
  if ! fetch; then
    cat "$work/apt.log" >&2
    die "could not download $tarball (source package qemu=$version)"
  fi
fi

# One pass over the 39 MB tarball: extract only the header.
tar -xJf "$work/$tarball" -C "$work" --wildcards --no-anchored 'include/qemu/qemu-plugin.h' \
  2>"$work/tar.log" || { cat "$work/tar.log" >&2; die "cannot extract qemu-plugin.h from $tarball"; }
member=$(cd "$work" && find . -path '*/include/qemu/qemu-plugin.h' -type f | head -n1)
[ -n "$member" ] || die "$tarball has no */include/qemu/qemu-plugin.h"
mkdir -p "$dest"
install -m 0644 "$work/$member" "$dest/qemu-plugin.h"
printf '%s' "$version" >"$stamp"   # no newline: compared exactly above
say "qemu-plugin.h for qemu $version -> $dest"
