#!/usr/bin/env bash
# Build U-Boot proper for QEMU's imx8mp-evk from Debian's u-boot source package.
#
# Why: the i.MX8M Plus boards boot seL4 through U-Boot, and no Debian binary package
# ships U-Boot for them. Debian's source (bookworm: 2023.01, with Debian's patches) is
# what any machine with deb-src can get; imx8mp_evk_defconfig plus our fragment
# (images/uboot-imx8mp/imx8mp-qemu.config) makes U-Boot proper only: the firmware stand-in
# (images/firmware/) plays BL31 and enters it at EL2, QEMU's DRAM needs no training.
# QEMU's machine has no boot ROM, whose API U-Boot calls once; rom-api.S stands in for it
# and U-Boot's pointer to that API is aimed at it. QEMU's uSDHC model needs the SDHCI
# clock, power and interrupt enables U-Boot's uSDHC driver never sets (qemu-usdhc.patch,
# applied to a hard-linked copy of the source: Debian's tree stays as shipped).
# docs/uboot-imx8mp.md has the details.
#
# Usage: scripts/build-uboot-imx8mp.sh [OUT]
#   OUT (default ${HARNESS_BUILD:-build}/uboot-imx8mp): U-Boot's object directory (O=) and
#   OUT/u-boot-qemu.elf, the ELF QEMU loads (ROM API stand-in in OCRAM + u-boot.bin at
#   CONFIG_TEXT_BASE, entry there). The source goes to ${HARNESS_BUILD:-build}/uboot-src/.
#   JOBS (default 2): make -j.
# Idempotent: a no-op when the ELF's stamp names the same source version and inputs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${HARNESS_BUILD:-$here/build}
out=$(mkdir -p "${1:-$build/uboot-imx8mp}" && cd "${1:-$build/uboot-imx8mp}" && pwd)
src_root=$build/uboot-src
inputs=$here/images/uboot-imx8mp
jobs=${JOBS:-2}
cross=aarch64-linux-gnu-

# What upstream version we build; Debian's revision (security fixes) may move.
UPSTREAM=2023.01
SUITE=bookworm
DEFCONFIG=imx8mp_evk_defconfig
# Where rom-api.S's table lands (link.ld) and the value U-Boot's g_rom_api has as built.
ROM_API_BASE=0x00980000
ROM_API_AS_BUILT=0x980

say() { printf 'build-uboot-imx8mp: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root for: $*"; fi
}

# -- prerequisites ------------------------------------------------------------------
# Tools U-Boot's build runs (bison/flex: Kconfig and dtc; swig + python3-dev: pylibfdt for
# binman, which the i.MX8M boards select; libssl/gnutls/uuid: the host tools it builds).
need_tools=(make bc bison flex swig dpkg-source dpkg-parsechangelog python3 "${cross}gcc" "${cross}ld" "${cross}objcopy" "${cross}nm")
for t in "${need_tools[@]}"; do
  command -v "$t" >/dev/null || die "$t is missing (apt-get install bison flex swig bc \
dpkg-dev gcc-aarch64-linux-gnu python3-dev libssl-dev libgnutls28-dev uuid-dev)"
done

stamp_text() {
  local version=$1
  printf 'u-boot %s\n' "$version"
  sha256sum "$inputs/imx8mp-qemu.config" "$inputs/rom-api.S" "$inputs/link.ld" "$inputs"/*.patch \
    "$here/scripts/build-uboot-imx8mp.sh" \
    | sed "s#  $here/#  #"
}

# -- the source ---------------------------------------------------------------------
# deb-src for bookworm's main archive. apt refuses a source whose Signed-By differs from
# another entry for the same archive and suite, so the line takes the keyring the deb822
# entry names, when there is one.
src_list=/etc/apt/sources.list.d/harness-bookworm-src.list
# shellcheck source=lib/deb-src.sh
. "$here/scripts/lib/deb-src.sh"

# Empty (not a failure) while there is no source yet.
source_dir() { { find "$src_root" -maxdepth 1 -type d -name "u-boot-$UPSTREAM*" 2>/dev/null || true; } | head -n1; }
source_version() { { sed -n 's/^Version: //p' "$src_root"/u-boot_"$UPSTREAM"*.dsc 2>/dev/null || true; } | head -n1; }

fetch_source() {
  mkdir -p "$src_root"
  ensure_deb_src "$SUITE" "$src_list"
  say "apt-get update (for the u-boot source package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$src_root/update.log" 2>&1 \
    || { cat "$src_root/update.log" >&2; die "apt-get update failed"; }
  say "apt-get source u-boot/$SUITE into $src_root"
  ( cd "$src_root" && apt-get source "u-boot/$SUITE" ) >"$src_root/source.log" 2>&1 \
    || { cat "$src_root/source.log" >&2; die "apt-get source u-boot/$SUITE failed"; }
  [ -n "$(source_dir)" ] || die "no u-boot-$UPSTREAM* after apt-get source (see $src_root/source.log)"
}

src=$(source_dir)
elf=$out/u-boot-qemu.elf
if [ -n "$src" ] && [ -f "$elf" ] && [ -f "$elf.stamp" ] \
    && [ "$(cat "$elf.stamp")" = "$(stamp_text "$(source_version)")" ]; then
  exit 0
fi
[ -n "$src" ] || fetch_source
src=$(source_dir)
version=$(source_version)
[ -f "$src/configs/$DEFCONFIG" ] || die "$src has no configs/$DEFCONFIG"

# -- our patches, on a hard-linked copy (patch writes a new file, so the links break
# only where it changes something and Debian's tree is never touched) -----------------
tree=$src_root/qemu-tree-$(cat "$inputs"/*.patch | sha256sum | cut -c1-12)
if [ ! -d "$tree" ]; then
  say "patching a copy of $src into $tree"
  rm -rf "$tree.tmp"
  cp -al "$src" "$tree.tmp"
  for p in "$inputs"/*.patch; do
    patch -s -p1 -d "$tree.tmp" < "$p" || die "$p does not apply to u-boot $version"
  done
  mv "$tree.tmp" "$tree"
fi
src=$tree

# -- configure: the defconfig, then the fragment (later lines win) -------------------
say "configuring $DEFCONFIG + imx8mp-qemu.config (u-boot $version) in $out"
cat "$src/configs/$DEFCONFIG" "$inputs/imx8mp-qemu.config" > "$out/.config"
make -s -C "$src" O="$out" CROSS_COMPILE="$cross" olddefconfig 2>&1 | grep -v 'override: reassigning' >&2 || true
# Every setting of the fragment must have survived Kconfig (a selected symbol cannot be
# turned off, a missing dependency drops a value silently).
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qxF "$line" "$out/.config" || die "Kconfig did not keep '$line'";;
    "# CONFIG_"*" is not set")
      sym=${line#\# }; sym=${sym%% *}
      grep -q "^$sym=" "$out/.config" && die "Kconfig kept $sym on (fragment: '$line')";;
  esac
done < "$inputs/imx8mp-qemu.config"

# -- U-Boot proper: u-boot.bin (u-boot-nodtb.bin + imx8mp-evk.dtb), not flash.bin ----
# The banner's date is the Debian upload's, not the build's: the same source builds the same
# bytes anywhere.
epoch=$(dpkg-parsechangelog -l "$src/debian/changelog" -STimestamp)
say "make -j$jobs u-boot.bin (log: $out/build.log)"
SOURCE_DATE_EPOCH=$epoch make -C "$src" O="$out" CROSS_COMPILE="$cross" -j"$jobs" u-boot.bin \
    >"$out/build.log" 2>&1 \
  || { tail -n 30 "$out/build.log" >&2; die "U-Boot build failed"; }

# -- U-Boot's ROM API pointer -> the stand-in ------------------------------------------
text_base=$(sed -n 's/^CONFIG_TEXT_BASE=//p' "$out/.config")
sym=$("${cross}nm" "$out/u-boot" | awk '$3 == "g_rom_api" {print $1}')
[ -n "$sym" ] || die "u-boot has no g_rom_api symbol (not an i.MX8M build?)"
offset=$(( 0x$sym - text_base ))
python3 - "$out/u-boot.bin" "$out/u-boot-rom-api.bin" "$offset" "$ROM_API_AS_BUILT" "$ROM_API_BASE" <<'PY' \
  || die "cannot aim g_rom_api at the ROM API stand-in"
import struct, sys
src, dst, offset, as_built, base = sys.argv[1], sys.argv[2], *(int(a, 0) for a in sys.argv[3:])
data = bytearray(open(src, "rb").read())
(word,) = struct.unpack_from("<Q", data, offset)
if word != as_built:
    sys.exit(f"g_rom_api in u-boot.bin is {word:#x}, not {as_built:#x}: refusing to patch")
struct.pack_into("<Q", data, offset, base)
open(dst, "wb").write(data)
PY

# -- one ELF: ROM API stand-in in OCRAM, U-Boot at CONFIG_TEXT_BASE --------------------
"${cross}gcc" -c -o "$out/rom-api.o" "$inputs/rom-api.S"
( cd "$out" && "${cross}objcopy" -I binary -O elf64-littleaarch64 -B aarch64 \
    --rename-section .data=.uboot,alloc,load,contents,readonly,code u-boot-rom-api.bin uboot.o )
"${cross}ld" -T "$inputs/link.ld" -o "$elf.tmp" "$out/rom-api.o" "$out/uboot.o"
table=$("${cross}nm" "$elf.tmp" | awk '$3 == "rom_api" {print $1}')
entry=$("${cross}readelf" -h "$elf.tmp" | awk '/Entry point/ {print $4}')
[ $(( 0x$table )) -eq $(( ROM_API_BASE )) ] || die "rom_api linked at 0x$table, not $ROM_API_BASE"
[ $(( entry )) -eq $(( text_base )) ] || die "entry $entry is not CONFIG_TEXT_BASE $text_base (link.ld)"
# The harness never poisons DRAM base + [2 MiB, 4 MiB) on this target (harness/qemu/poison.py,
# UBOOT_IMAGE_WINDOW), where QEMU loads U-Boot's image: it must lie inside.
end=$(( text_base + $(stat -c %s "$out/u-boot-rom-api.bin") ))
[ $(( text_base )) -ge $(( 0x40000000 + (2 << 20) )) ] && [ "$end" -le $(( 0x40000000 + (4 << 20) )) ] \
  || die "u-boot.bin at $text_base..$(printf '%#x' "$end") is not inside the window the harness keeps unpoisoned"
mv "$elf.tmp" "$elf"
stamp_text "$version" > "$elf.stamp"
say "$elf (u-boot $version, entry $entry, ROM API at $ROM_API_BASE)"
