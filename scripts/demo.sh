#!/usr/bin/env bash
# The demo: boot the reference elfloader with a 64 MiB probe on QEMU's i.MX8M Plus, first the
# seL4 baseline (MMU off), then the early identity map, both under the cache model. Each prints
# its phase summary, every check (cache coherence included) and the MODELED armStone unpack time:
# QEMU copies as fast either way, the board does not.
set -euo pipefail
cd "$(dirname "$0")/.."
for mode in mmu-off early-mmu; do
  echo "== harness boot --target qemu-imx8mp --mode $mode --blob-mib 64 --coherence --verify"
  .venv/bin/harness boot --target qemu-imx8mp --mode "$mode" --blob-mib 64 --coherence --verify \
    --results results/demo
  echo
done
