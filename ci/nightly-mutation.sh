#!/bin/sh
# Nightly mutation run: every mutant of the early-MMU series (real seL4) and of the
# reference loader's early-MMU path, under the cache model to the hand-off, on the QEMU
# targets that enter the loader at EL1 and EL2. Keeps the table, the JSON and the log in
# $MUTATION_RESULTS/STAMP/ (default results/mutation/) and appends the score line to
# $MUTATION_RESULTS/scores.txt, so a night that loses a kill shows as a lower line.
#
#   ci/nightly-mutation.sh                      # both subjects, qemu-virt + qemu-virt-el2 (+ qemu-imx8mp-el3 for the reference loader)
#   MUTATE_ARGS='--subject sel4' ci/nightly-mutation.sh
#
# Exit status: that of `harness mutate` (1 when a control -- the stock loader, the clean
# patch, an unedited copy of images/ -- fails a check: every kill would be a false alarm).
set -eu
cd "$(dirname "$0")/.."
RESULTS=${MUTATION_RESULTS:-results/mutation}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="$RESULTS/$STAMP"
mkdir -p "$OUT"
status=0
# shellcheck disable=SC2086  # MUTATE_ARGS is a list of options
.venv/bin/harness mutate --out "$OUT" ${MUTATE_ARGS:-} >"$OUT/stdout.txt" 2>"$OUT/log.txt" || status=$?
tail -n 1 "$OUT/stdout.txt"
if [ "$status" -eq 0 ]; then
    printf '%s %s\n' "$STAMP" "$(tail -n 1 "$OUT/stdout.txt")" >>"$RESULTS/scores.txt"
fi
exit "$status"
