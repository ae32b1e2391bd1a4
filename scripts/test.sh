#!/usr/bin/env bash
# The test command: host unit tests once, then the boot suite on every QEMU target,
# through U-Boot, and through a labgrid lab on 127.0.0.1 (the virtual board).
# JUnit XML (with timeline figures as properties) and logs go under results/.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p results
# Every boot of this invocation is one run in results/history.sqlite (docs/history.md).
export HARNESS_RUN_ID=${HARNESS_RUN_ID:-make-test-$(date -u +%Y%m%dT%H%M%SZ)} HARNESS_RUN_LABEL=${HARNESS_RUN_LABEL:-make test}
status=0
junits=()
run() {
  local name=$1; shift
  echo "== pytest $name: $*"
  junits+=("results/junit-$name.xml")
  "$py" -m pytest -q -p no:cacheprovider --junitxml="results/junit-$name.xml" "$@" || status=1
}
run host -m 'not boot' tests
# Every boot suite includes real seL4 (-m sel4: sel4test built from upstream, stock and patched,
# out-of-band verification, the cache model, the patch's negative controls). Where a target adds
# nothing new to a part of it, that part runs once elsewhere, to keep `make test` within 30 min:
# - the controls run on qemu-virt (EL1) and qemu-virt-el2 (EL2): imx8mp's hypervisor build runs
#   the same loader code as virt-el2's;
# - FIT twins and the lab board differ from qemu-virt-uboot only in packaging and transport:
#   there real seL4 runs its smoke boot (patched sel4test to its verdict).
# - the stock loader (upstream's, not ours) runs sel4test to its verdict on qemu-virt (EL1) and
#   qemu-imx8mp (EL2 after firmware, the board's SoC); elsewhere it is checked up to the hand-off;
# - faults injected during a boot (marker `faults`, tests/test_faults.py) run where their paths
#   differ: qemu-virt (direct QEMU), qemu-virt-uboot (TFTP, U-Boot), lab-virtual-board
#   (coordinator, exporter);
# - lab-virtual-board-fit (FIT through the lab) is the nightly's (ci/nightly-lab.sh): FIT is
#   covered by qemu-virt-uboot-fit, the lab by lab-virtual-board.
SMOKE='boot and (not sel4 or sel4_smoke)'
NO_STOCK_VERDICT=(--deselect 'tests/test_sel4.py::test_sel4test_passes[stock]')
for target in ${HARNESS_TEST_TARGETS:-qemu-virt qemu-virt-el2 qemu-imx8mp qemu-imx8mp-el3 qemu-virt-uboot qemu-virt-uboot-fit lab-virtual-board}; do
  case $target in
    *-fit|lab-*)     run "$target" -m "$SMOKE" --target="$target" tests ;;
    *imx8mp)         run "$target" -m 'boot and not faults' -k 'not patch_negative_control' --target="$target" tests ;;
    qemu-virt)       run "$target" -m boot --target="$target" tests ;;
    qemu-virt-uboot) run "$target" -m boot "${NO_STOCK_VERDICT[@]}" --target="$target" tests ;;
    *)               run "$target" -m 'boot and not faults' "${NO_STOCK_VERDICT[@]}" --target="$target" tests ;;
  esac
done
# Every skip of this invocation, counted by reason (with CI=true a missing tool or input is a
# failure, never one of these: harness/testing.py).
"$py" -m harness.testing "${junits[@]}"
exit $status
