#!/usr/bin/env bash
# The demo: boot the reference elfloader on QEMU virt in the seL4 baseline
# (MMU off) and with the early identity map, and print both phase summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
for mode in mmu-off early-mmu; do
  echo "== harness boot --target qemu-virt --mode $mode"
  .venv/bin/harness boot --target qemu-virt --mode "$mode" --results results/demo
  echo
done
