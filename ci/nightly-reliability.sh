#!/usr/bin/env bash
# Nightly reliability run (no lab needed): the long fuzz run over the reference loader's CPIO/ELF
# parsers (>= 10 M executions per target), the property tests with the nightly Hypothesis
# profile, the soak (200 boots across QEMU targets and modes, random sizes), and every fault
# test 20 times on each target where its path differs (FAULT_TARGETS; the lab one is virtual).
#
#   ci/nightly-reliability.sh            artifacts under $ARTIFACTS (default artifacts/reliability-<UTC time>/)
#
# Exit status: 0 all clean; 1 a crash, a failing property, an unexplained soak failure/leak, or a
# fault or boot test that failed in any of its repetitions.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${ARTIFACTS:-artifacts/reliability-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
make setup >/dev/null || { echo "set-up failed" >&2; exit 1; }
rc=0
echo "== fuzz: 10 M executions per parser (crashes in build/fuzz/crashes/)"
make fuzz FUZZ_RUNS=10000000 2>&1 | tee "$out/fuzz.log" | tail -n 20
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
cp -r build/fuzz/crashes "$out/" 2>/dev/null || true
echo "== property tests, nightly profile"
HYPOTHESIS_PROFILE=nightly .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_properties.py \
    2>&1 | tee "$out/properties.log" | tail -n 5
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
echo "== soak: 200 boots"
.venv/bin/python bench/soak.py --boots 200 --seed "$(date +%j)" 2>&1 | tee "$out/soak.log" | tail -n 8
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
cp build/soak/soak.json "$out/" 2>/dev/null || true
# A fault test that fails once in 20 is a flake: fixed at its cause, never retried (docs/faults.md).
for target in ${FAULT_TARGETS:-qemu-virt qemu-virt-uboot lab-virtual-board}; do
  echo "== fault tests x${FAULT_REPEAT:-20}: $target"
  .venv/bin/python -m pytest -q -p no:cacheprovider -m boot --target="$target" --count="${FAULT_REPEAT:-20}" \
      --results "$out/faults" --history off --junitxml="$out/faults-$target.xml" tests/test_faults.py \
      2>&1 | tee "$out/faults-$target.log" | tail -n 5
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
# Every boot test added with the proof's hardening, 20 times on its target: the same rule.
for spec in ${BOOT_LOOP:-"qemu-virt:tests/test_determinism.py,tests/test_coherence_boot.py,tests/test_sel4.py,tests/test_mutate.py" \
                         "qemu-virt-uboot:tests/test_uboot_boot.py" "qemu-virt-uboot-fit:tests/test_uboot_boot.py"}; do
  target=${spec%%:*}; files=${spec#*:}
  echo "== boot tests x${FAULT_REPEAT:-20}: $target ${files//,/ }"
  .venv/bin/python -m pytest -q -p no:cacheprovider -m boot --target="$target" --count="${FAULT_REPEAT:-20}" \
      --results "$out/boots" --history off --junitxml="$out/boots-$target.xml" ${files//,/ } \
      2>&1 | tee "$out/boots-$target.log" | tail -n 5
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
done
exit $rc
