#!/usr/bin/env bash
# The demo, in two parts.
# 1. Our reference elfloader with a 64 MiB probe on QEMU's i.MX8M Plus: the seL4 baseline (MMU
#    off), then the early identity map, both under the cache model. Each prints its phase summary,
#    every check (cache coherence included) and the MODELED armStone unpack time: QEMU copies as
#    fast either way, the board does not.
# 2. The real thing: seL4's own elfloader and sel4test (built with seL4's build system, cached in
#    build/sel4/), stock vs our early-MMU patch, under seL4's hand-off contract; then the patched
#    image boots sel4test to its verdict; then the modeled 6 MB / 596 MB table of
#    bench/sel4_model.py if it has been run (its 596 MB runs take minutes, so the demo never starts them).
# 3. The history: every boot above is one run in results/demo/history.sqlite; the demo compares it
#    with the previous demo run (deterministic figures must not move) and writes the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo; echo "== $*"; }
export HARNESS_RUN_ID=${HARNESS_RUN_ID:-demo-$(date -u +%Y%m%dT%H%M%SZ)} HARNESS_RUN_LABEL=${HARNESS_RUN_LABEL:-make demo}

for mode in mmu-off early-mmu; do
  step "reference loader, $mode: boot on qemu-imx8mp with a 64 MiB probe, cache model + memory verify"
  .venv/bin/harness boot --target qemu-imx8mp --mode "$mode" --blob-mib 64 --coherence --verify \
    --results results/demo
done

step "real seL4: build sel4test for qemu-virt (EL1, debug), stock elfloader and with our early-MMU patch (cached)"
stock=$(.venv/bin/harness sel4 build)
patched=$(.venv/bin/harness sel4 build --early-mmu)
echo "stock:   $stock"
echo "patched: $patched"

step "real seL4, stock loader: cache-model checks under seL4's contract + MODELED armStone time, up to the hand-off"
.venv/bin/harness boot --target qemu-virt --image "$stock" --coherence --until handoff --results results/demo

step "real seL4, patched loader (early MMU): the same checks; the modeled unpack should collapse"
.venv/bin/harness boot --target qemu-virt --image "$patched" --coherence --until handoff --results results/demo

step "real seL4, patched loader: a full boot to sel4test's verdict ('All is well in the universe')"
.venv/bin/harness boot --target qemu-virt --image "$patched" --results results/demo

step "MODELED armStone unpack at the seed's sizes (6 MB, 596 MB): stock vs patched, from bench/sel4_model.py"
if [[ -f build/sel4-model/headline.txt ]]; then
  echo "(cached result of $(date -r build/sel4-model/headline.txt '+%Y-%m-%d %H:%M'))"
  cat build/sel4-model/headline.txt
else
  echo "not run yet: .venv/bin/python bench/sel4_model.py --sizes 6,596 (builds and runs both sizes; minutes)"
fi

step "history: this run ($HARNESS_RUN_ID) against the previous demo run, then the report"
.venv/bin/harness history results/demo --run "$HARNESS_RUN_ID" --limit 10
if [[ $(.venv/bin/harness history results/demo --runs | wc -l) -gt 1 ]]; then
  .venv/bin/harness compare results/demo --run "$HARNESS_RUN_ID" --baseline previous \
    || echo "(a figure moved: see the lines above; the boots themselves passed)"
else
  echo "first demo run: nothing to compare with yet (run 'make demo' again)"
fi
.venv/bin/harness report results/demo -o results/demo/report.html
