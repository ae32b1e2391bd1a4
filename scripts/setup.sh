#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine: system packages, the
# Python virtual environment and the default guest images.  A second run is a
# fast no-op: every step checks before it acts.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# Packages from bookworm; QEMU comes from bookworm-backports because bookworm's
# 7.2 has no imx8mp-evk machine.
APT_PACKAGES=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu u-boot-qemu u-boot-tools
              device-tree-compiler python3-venv libglib2.0-dev pkg-config xz-utils make gcc git
              # real seL4 builds (harness sel4 build): seL4's CMake/ninja build, C++ for its
              # runtime, nanopb's protoc, xmllint for its config, cpio/xxd for archives and hashes
              cmake ninja-build g++-aarch64-linux-gnu libxml2-utils protobuf-compiler cpio xxd
              # the seL4 builds' compiler cache: the loader's options switch back and forth
              ccache
              # fuzzing the loader's parsers (libFuzzer + ASan/UBSan); the report's browser test
              clang libclang-rt-14-dev chromium
              # `harness boot --gdb` prints a gdb-multiarch command line
              gdb-multiarch
              # U-Boot proper for QEMU imx8mp-evk, built from Debian's u-boot source on first
              # use (scripts/build-uboot-imx8mp.sh; it adds a bookworm deb-src line itself)
              bison flex swig bc python3-dev libssl-dev libgnutls28-dev uuid-dev dpkg-dev patch
              # the SD card image `load mmc` reads (harness/uboot/sdcard.py: no root mounts)
              fdisk dosfstools mtools
              # the lab's i.MX8M Plus place serves TFTP with RFC 7440 windows (harness/lab/atftpd.py)
              atftpd)
BACKPORTS_PACKAGES=(qemu-system-arm)
BACKPORTS_LIST=/etc/apt/sources.list.d/harness-bookworm-backports.list

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else say "need root for: $*  (run as root, or run '.venv/bin/harness doctor' for the list)"; exit 1; fi
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
  done
}

qemu_recent() {
  command -v qemu-system-aarch64 >/dev/null || return 1
  local major
  major=$(qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1)
  [ "${major:-0}" -ge 9 ]
}

system_packages() {
  local need; need=$(missing_packages "${APT_PACKAGES[@]}")
  local need_qemu=0; qemu_recent || need_qemu=1
  [ -z "$need" ] && [ $need_qemu = 0 ] && return 0
  if [ $need_qemu = 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports to $BACKPORTS_LIST"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | as_root tee "$BACKPORTS_LIST" >/dev/null
  fi
  say "installing system packages: ${need//$'\n'/ } $([ $need_qemu = 1 ] && echo qemu-system-arm/backports)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if [ -n "$need" ]; then
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
    # The package enables a system TFTP server on port 69 (all addresses); the lab only runs
    # the binary, on 127.0.0.1 and a free port, so the service is switched off again.
    if grep -qx atftpd <<<"$need" && command -v systemctl >/dev/null; then
      as_root systemctl disable --now atftpd.socket atftpd.service >/dev/null 2>&1 || true
    fi
  fi
  if [ $need_qemu = 1 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports \
      --no-install-recommends "${BACKPORTS_PACKAGES[@]}"
  fi
  qemu_recent || { say "qemu-system-aarch64 >= 9 still missing after install"; exit 1; }
}

python_env() {
  local stamp=.venv/.installed
  if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then return 0; fi
  say "creating the virtual environment in .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
}

# seL4's build scripts want their own Python packages (PyPI sel4-deps); kept apart
# from the harness's environment so their pins never fight ours.
sel4_env() {
  local stamp=build/sel4-venv/.installed
  [ -f "$stamp" ] && return 0
  say "creating seL4's build environment in build/sel4-venv (PyPI sel4-deps)"
  [ -x build/sel4-venv/bin/python ] || python3 -m venv build/sel4-venv
  build/sel4-venv/bin/python -m pip install -q --upgrade pip
  build/sel4-venv/bin/python -m pip install -q 'sel4-deps==0.9.0'
  touch "$stamp"
}

# The cache-model TCG plugin, built against the header of the installed QEMU
# (fetched from Debian's source package; never committed).
plugin() {
  make -s -C harness/coherence/plugin OUT="$here/build/coherence" >/dev/null
}

# The two environments and the plugin are independent and mostly wait on one process each
# (pip resolving and unpacking, the header's download): side by side, a fresh set-up takes
# 20 s instead of 32 s on 2 cores. Each step's output stays whole: it is printed when it ends.
side_by_side() {    # runs each named step in the background; fails if any failed
  local step pids=() logs=() rc=0 i
  for step in "$@"; do
    logs+=("$(mktemp)")
    "$step" >"${logs[-1]}" 2>&1 & pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { rc=1; say "${*:$((i + 1)):1} failed:"; }
    cat "${logs[$i]}"; rm -f "${logs[$i]}"
  done
  return $rc
}

system_packages
side_by_side python_env sel4_env plugin
.venv/bin/harness build --default --quiet
# The EL3 firmware stand-in the imx8mp targets boot in front of the loader (images/firmware/;
# harness/images/build.py builds it on demand too, into the same place; never committed).
make -s -C images firmware MACHINE=imx8mp OUT="${HARNESS_BUILD:-$here/build}/images/imx8mp/firmware" >/dev/null
