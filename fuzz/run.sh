#!/usr/bin/env bash
# Fuzz the reference elfloader's parsers: build, cut seeds from the images on this machine,
# then run each target in turn (one process: the machine is shared with QEMU runs).
#
#   fuzz/run.sh SECONDS [RUNS]
#     SECONDS  total time, split evenly over the targets (0: no time limit)
#     RUNS     executions per target (0 or absent: no count limit)
#
# The corpus grows across runs under build/fuzz/corpus/; crashes land in build/fuzz/crashes/.
# A crash is a bug in images/elfloader/: fix it and keep the input in fuzz/regressions/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
runs=${2:-0}
targets=(cpio elf)
max_len=${FUZZ_MAX_LEN:-65536}
out=build/fuzz

if ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (make setup installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi
make -s -C fuzz OUT="$PWD/$out/bin"
.venv/bin/python fuzz/seeds.py "$out/seeds"

per_target=$(( seconds / ${#targets[@]} ))
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:malloc_context_size=10}
status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/crashes" "$out/seeds/$t"
  limit="${per_target}s"; [ "$seconds" -gt 0 ] || limit="no time limit"
  [ "$runs" -gt 0 ] && limit="$limit, $runs runs"
  echo "== fuzz_$t: $limit (max_len=$max_len)"
  "$out/bin/fuzz_$t" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
      -max_total_time="$per_target" -runs="$( [ "$runs" -gt 0 ] && echo "$runs" || echo -1 )" \
      -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
      "$out/corpus/$t" "$out/seeds/$t" "fuzz/regressions/$t" 2>&1 | tee "$out/fuzz_$t.log" \
      | grep -a -E '^#[0-9]+ +(INITED|DONE)|^Done|ERROR|SUMMARY|replay:|runtime error|Test unit' || true
  if grep -q -a -E 'ERROR|SUMMARY|Test unit written' "$out/fuzz_$t.log"; then
    echo "fuzz_$t: CRASH -- see $out/fuzz_$t.log and $out/crashes/" >&2
    status=1
  fi
done
exit $status
