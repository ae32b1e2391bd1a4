#!/usr/bin/env bash
# The test command: host unit tests once, then the boot suite on every QEMU target,
# through U-Boot, and through a labgrid lab on 127.0.0.1 (the virtual board).
# JUnit XML (with timeline figures as properties) and logs go under results/.
#
# The suites run HARNESS_TEST_JOBS at a time, longest first: default one more than the
# cores (each QEMU boot is one TCG thread, and a suite also waits: on timeouts, on a build
# another suite holds; measured on 2 cores: 3 at a time 837 s, 2 at a time 963 s,
# bench/RESULTS.md). Each suite writes its own log (results/log-NAME.txt), JUnit
# file and results/<target>/ folder; a suite's log is printed whole when it ends, so
# two suites never interleave lines. Builds two suites share (reference images, seL4
# images, U-Boot packages) are made once, under a lock per output (harness/atomic.py).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p results
# Every boot of this invocation is one run in results/history.sqlite (docs/history.md).
export HARNESS_RUN_ID=${HARNESS_RUN_ID:-make-test-$(date -u +%Y%m%dT%H%M%SZ)} HARNESS_RUN_LABEL=${HARNESS_RUN_LABEL:-make test}
jobs=${HARNESS_TEST_JOBS:-$(($(nproc) + 1))}
case $jobs in ''|*[!0-9]*|0)
  echo "test.sh: HARNESS_TEST_JOBS='$jobs': give the number of suites to run at once, e.g. 2" >&2; exit 2 ;;
esac

# Every boot suite includes real seL4 (-m sel4: sel4test built from upstream, stock and patched,
# out-of-band verification, the cache model, the patch's negative controls). Where a target adds
# nothing new to a part of it, that part runs once elsewhere:
# - the controls run on qemu-virt (EL1) and qemu-virt-el2 (EL2): imx8mp's hypervisor build runs
#   the same loader code as virt-el2's;
# - FIT twins and the lab board differ from qemu-virt-uboot only in packaging and transport:
#   there real seL4 runs its smoke boot (patched sel4test to its verdict).
# - the stock loader (upstream's, not ours) runs sel4test to its verdict on qemu-virt (EL1) and
#   qemu-imx8mp (EL2 after firmware, the board's SoC); elsewhere it is checked up to the hand-off;
# - qemu-imx8mp-uboot is the board's path: U-Boot proper for the i.MX8M Plus (built from Debian's
#   source on first use) loading by TFTP through the SoC's ENET; its faults are qemu-virt-uboot's;
# - qemu-imx8mp-uboot-mmc differs from it in the transport (load mmc from an SD card) and runs the
#   U-Boot tests and the seL4 smoke boots (sel4test's verdict, bootelf and FIT to the hand-off);
# - faults injected during a boot (marker `faults`, tests/test_faults.py) run where their paths
#   differ: qemu-virt (direct QEMU), qemu-virt-uboot (TFTP, U-Boot), lab-virtual-board
#   (coordinator, exporter);
# - lab-virtual-board-fit (FIT through the lab) is the nightly's (ci/nightly-lab.sh): FIT is
#   covered by qemu-virt-uboot-fit, the lab by lab-virtual-board.
SMOKE='boot and (not sel4 or sel4_smoke)'
NO_STOCK_VERDICT=(--deselect 'tests/test_sel4.py::test_sel4test_passes[stock]')
selection() {       # sets ARGS: the pytest selection of one suite
  local target=$1
  case $target in
    host)            ARGS=(-m 'not boot' tests) ;;
    *-fit|lab-*)     ARGS=(-m "$SMOKE" --target="$target" tests) ;;
    *-uboot-mmc)     ARGS=(-m "$SMOKE" --target="$target" tests/test_uboot_*.py tests/test_sel4.py) ;;
    *imx8mp)         ARGS=(-m 'boot and not faults' -k 'not patch_negative_control' --target="$target" tests) ;;
    qemu-virt)       ARGS=(-m boot --target="$target" tests) ;;
    qemu-virt-uboot) ARGS=(-m boot "${NO_STOCK_VERDICT[@]}" --target="$target" tests) ;;
    *)               ARGS=(-m 'boot and not faults' "${NO_STOCK_VERDICT[@]}" --target="$target" tests) ;;
  esac
}

# Longest first (measured: bench/RESULTS.md), so the last suite to end is a short one.
SUITES=(${HARNESS_TEST_TARGETS:-qemu-virt qemu-virt-uboot qemu-virt-el2 qemu-imx8mp qemu-imx8mp-uboot host lab-virtual-board qemu-imx8mp-el3 qemu-virt-uboot-fit qemu-imx8mp-uboot-mmc})
# The host tier always runs (HARNESS_TEST_TARGETS picks the boot suites).
case " ${SUITES[*]} " in *" host "*) ;; *) SUITES+=(host) ;; esac

declare -A NAME_OF=() START_OF=()
status=0
junits=()
begin=$SECONDS
# Cancelled (CI's SIGTERM): stop the suites this script started, by pid, and say so.
trap 'echo "test.sh: stopped; stopping suites: ${NAME_OF[*]}" >&2; kill -TERM "${!NAME_OF[@]}" ${lint_pid:-} 2>/dev/null; wait; exit 143' TERM

start() {
  local name=$1 ARGS
  selection "$name"
  junits+=("results/junit-$name.xml")
  echo "== start $name: pytest ${ARGS[*]}  (log results/log-$name.txt)"
  # A background job of a script starts with SIGINT ignored, and Python then never raises
  # KeyboardInterrupt: give each suite the default, as a foreground pytest has (Ctrl-C, and
  # the tests that interrupt a run of their own, rely on it).
  env --default-signal=INT "$py" -m pytest -q -p no:cacheprovider --durations=25 \
    --junitxml="results/junit-$name.xml" "${ARGS[@]}" >"results/log-$name.txt" 2>&1 &
  NAME_OF[$!]=$name
  START_OF[$name]=$SECONDS
}

finish_one() {      # waits for any running suite, prints its log, records its status
  local pid rc=0 name
  wait -n -p pid "${!NAME_OF[@]}" || rc=$?
  name=${NAME_OF[$pid]}
  unset "NAME_OF[$pid]"
  echo "== pytest $name ($((SECONDS - START_OF[$name])) s, exit $rc):"
  cat "results/log-$name.txt"
  [ "$rc" = 0 ] || status=1
}

# Lint (mypy strict, ruff's lint and formatter) beside the first suites: a red lint fails the
# run like a red test.
echo "== start lint: mypy harness tests bench; ruff check .; ruff format --check .  (log results/log-lint.txt)"
{ .venv/bin/mypy harness tests bench && .venv/bin/ruff check . && .venv/bin/ruff format --check .; } >results/log-lint.txt 2>&1 &
lint_pid=$!

for name in "${SUITES[@]}"; do
  while [ "${#NAME_OF[@]}" -ge "$jobs" ]; do finish_one; done
  start "$name"
done
while [ "${#NAME_OF[@]}" -gt 0 ]; do finish_one; done
lint_rc=0; wait "$lint_pid" || lint_rc=$?
echo "== lint (exit $lint_rc):"; cat results/log-lint.txt
[ "$lint_rc" = 0 ] || status=1

echo "== all suites: $((SECONDS - begin)) s with $jobs at a time"
# The slowest tests across every suite, then every skip counted by reason (with CI=true a
# missing tool or input is a failure, never one of these: harness/testing.py).
"$py" -m harness.slowest 15 "${junits[@]}"
"$py" -m harness.testing "${junits[@]}"
exit $status
