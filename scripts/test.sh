#!/usr/bin/env bash
# The test command: host unit tests once, then the boot suite on every QEMU target,
# through U-Boot, and through a labgrid lab on 127.0.0.1 (the virtual board).
# JUnit XML (with timeline figures as properties) and logs go under results/.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p results
status=0
run() {
  local name=$1; shift
  echo "== pytest $name: $*"
  "$py" -m pytest -q -p no:cacheprovider --junitxml="results/junit-$name.xml" "$@" || status=1
}
run host -m 'not boot' tests
for target in ${HARNESS_TEST_TARGETS:-qemu-virt qemu-virt-el2 qemu-imx8mp qemu-imx8mp-el3 qemu-virt-uboot qemu-virt-uboot-fit lab-virtual-board lab-virtual-board-fit}; do
  run "$target" -m boot --target="$target" tests
done
exit $status
