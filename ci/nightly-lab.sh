#!/usr/bin/env bash
# Nightly lab run: the boot suite against lab targets, every artifact kept.
#
#   ci/nightly-lab.sh [--image IMG]... [TARGET...]
#   default targets: lab-virtual-board lab-virtual-board-fit lab-virtual-board-imx8mp (the lab's
#   QEMU virt and i.MX8M Plus places)
#
# Your own seL4 images: every --image IMG (or $HARNESS_IMAGE, several separated by ':') runs
# the sel4 suite (-m sel4, tests/test_sel4.py --image IMG: sel4test's verdict, the unpack
# window; out-of-band and cache-model checks where the target is QEMU) on each target whose
# machine the image is for (`harness inspect IMG --target T`; pairings.txt lists the rest). Each
# image is its own series in the history (target/image/mode: verdict, measured window, the
# U-Boot load and bootm phases), so tonight's boot is compared with that image's last nights.
# A Sculpt-class image as well, unless HARNESS_NIGHTLY_BIG=0: one sel4test with a 590 MiB
# payload (harness sel4 build --release --payload-mib 590, cached) to sel4test's verdict
# through qemu-virt-uboot and lab-virtual-board, booted in place by bootm (docs/lab.md).
#
# A real board needs its lab in the environment (docs/lab.md), e.g.
#   LG_COORDINATOR=labgrid.lab.example:20408 LG_PLACE=armstone-1 LG_TFTP_SERVER=10.20.0.1 \
#     HARNESS_LAB_WAIT=1800 ci/nightly-lab.sh armstone-imx8mp
#
# Artifacts under $ARTIFACTS (default artifacts/nightly-<UTC time>/):
#   junit-<target>.xml        JUnit XML; every boot's timeline figures are <property>s
#                             (phase_*_s, unpack_host_s, unpack_target_s, ...)
#   <target>/<run>/<boot>/    console.log (host-stamped lines), timeline.json (events,
#                             phases, U-Boot transfer), result.json, summary.txt
#   <target>/lab-*/           lab.log (place acquired/released), coordinator/exporter/QEMU
#                             logs of a virtual lab
#   pytest-<target>.log       the run's own output
#   failures.txt              every failed boot, classified infrastructure | setup | product
#   junit-image<N>-<target>.xml, image<N>-<target>/   the sel4 suite on your --image N
#   pairings.txt              the (image, target) pairs not booted: the image is for another machine
#   junit-sel4test-590M-<target>.xml, ...             the 590 MiB sel4test
#   compare.txt               tonight against the baseline (harness compare)
#   report.html               the history as one page: timelines, trends, checks (harness report)
# The history: every boot of the night is one run ($HARNESS_RUN_ID, default nightly-<UTC time>)
# in $HARNESS_HISTORY (default artifacts/history.sqlite): keep that file between nights (a
# runner cache or a shared path). $HARNESS_BASELINE: previous (default), last:N or a name
# set with 'harness history --set-baseline NAME RUN'.
# Exit status: 0 all passed; 1 a product failure (the loader or the images); 3 only
# infrastructure failures (the lab: no prompt, TFTP, lost console, place unavailable) or
# set-up failures (U-Boot's bootm size limit, an overlap: the failure names the fix);
# 4 every boot passed but a figure regressed against the baseline (see compare.txt).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${ARTIFACTS:-artifacts/nightly-$(date -u +%Y%m%dT%H%M%SZ)}
images=() targets=()
[ -z "${HARNESS_IMAGE:-}" ] || IFS=: read -r -a images <<< "$HARNESS_IMAGE"
while [ $# -gt 0 ]; do
  case "$1" in
    --image) [ $# -ge 2 ] || { echo "--image needs a file" >&2; exit 2; }; images+=("$2"); shift 2 ;;
    --image=*) images+=("${1#--image=}"); shift ;;
    -*) echo "unknown option $1 (usage: $0 [--image IMG]... [TARGET...])" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
for img in "${images[@]}"; do
  [ -f "$img" ] || { echo "--image $img: no such file (give the seL4 elfloader image)" >&2; exit 2; }
done
mkdir -p "$out"
[ ${#targets[@]} -gt 0 ] || targets=(lab-virtual-board lab-virtual-board-fit lab-virtual-board-imx8mp)

py=.venv/bin/python
[ -x "$py" ] || { echo "no .venv: run 'make setup' first" >&2; exit 3; }
export HARNESS_RUN_ID=${HARNESS_RUN_ID:-nightly-$(date -u +%Y%m%dT%H%M%SZ)} HARNESS_RUN_LABEL=${HARNESS_RUN_LABEL:-nightly}
history=${HARNESS_HISTORY:-artifacts/history.sqlite}

rc_all=0
for target in "${targets[@]}"; do
  echo "== nightly: $target -> $out"
  "$py" -m pytest -p no:cacheprovider -o junit_family=xunit1 \
      -m "boot and not lab" --target="$target" \
      --results "$out/$target" --history "$history" --junitxml "$out/junit-$target.xml" \
      tests/test_boot.py tests/test_boot_failures.py 2>&1 | tee "$out/pytest-$target.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || rc_all=1
  [ "$rc" -ne 3 ] || echo "== $target: the lab was not usable (see $out/pytest-$target.log)"
done

# One sel4 suite per (image, target): `name` keeps its artifacts apart.
sel4_suite() {   # name target image [pytest args...]
  local name=$1 target=$2 img=$3; shift 3
  echo "== nightly: $(basename "$img") on $target -> $out/$name"
  "$py" -m pytest -p no:cacheprovider -o junit_family=xunit1 -m sel4 --target="$target" \
      --image "$img" --results "$out/$name" --history "$history" \
      --junitxml "$out/junit-$name.xml" "$@" tests/test_sel4.py 2>&1 | tee "$out/pytest-$name.log"
  return "${PIPESTATUS[0]}"
}
# Each image boots on the targets it is for: the image says its machine (the kernel's DTB, or
# the reference loader's UART); a pairing it refuses is listed in pairings.txt, not failed. An
# image that fits none of tonight's targets is a set-up failure: its evidence would be missing.
n=0
for img in "${images[@]}"; do
  n=$((n + 1)) ran=0
  for target in "${targets[@]}"; do
    .venv/bin/harness inspect "$img" --target "$target" > "$out/inspect-image$n-$target.txt" 2>&1
    case $? in
      0) ran=1; sel4_suite "image$n-$target" "$target" "$img" || rc_all=1 ;;
      1) is=$(grep -o "^  platform: machine '[^']*' ([^)]*)" "$out/inspect-image$n-$target.txt" | cut -c13-)
         echo "image$n $img is for $is: not booted on $target (inspect-image$n-$target.txt)" \
             | tee -a "$out/pairings.txt" ;;
      *) echo "setup          image$n                   $img: $(tail -1 "$out/inspect-image$n-$target.txt")" \
             >> "$out/build-failures.txt"; ran=1; break ;;
    esac
  done
  [ "$ran" = 1 ] || echo "setup          image$n                   $img is for none of the targets (${targets[*]}): see pairings.txt" \
      >> "$out/build-failures.txt"
done
if [ "${HARNESS_NIGHTLY_BIG:-1}" != 0 ]; then
  big=$(.venv/bin/harness sel4 build --release --payload-mib 590 2>"$out/build-590.log" | tail -1)
  if [ -f "$big" ]; then
    for target in qemu-virt-uboot lab-virtual-board; do
      sel4_suite "sel4test-590M-$target" "$target" "$big" -k test_sel4test_passes || rc_all=1
    done
  else
    echo "product        sel4test-590M            the 590 MiB build failed (see build-590.log)" \
        >> "$out/build-failures.txt"
    rc_all=1
  fi
fi

# Tonight against the baseline, and the page that shows it (kept with the artifacts).
.venv/bin/harness compare "$history" --run "$HARNESS_RUN_ID" --baseline "${HARNESS_BASELINE:-previous}" \
    > "$out/compare.txt" 2>&1
rc_compare=$?
cat "$out/compare.txt"
.venv/bin/harness report "$history" -o "$out/report.html" || echo "== report failed (see above)"

# Classify what failed, from the JUnit reports (a BootFailure names its kind).
"$py" - "$out" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
out = pathlib.Path(sys.argv[1])
rows, lab_down = [], []
for xml in sorted(out.glob("junit-*.xml")):
    target = xml.stem[len("junit-"):]
    for case in ET.parse(xml).iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            text = (bad.get("message") or "") + "\n" + (bad.text or "")
            kind = next((k for k in ("infrastructure", "setup") if f"[{k}]" in text), "product")
            first = next((l.strip() for l in text.splitlines() if l.strip()), "")
            rows.append(f"{kind:14} {target:24} {case.get('name')}: {first[:160]}")
for log in sorted(out.glob("pytest-*.log")):
    if "Exit: harness lab:" in log.read_text(errors="replace"):
        lab_down.append(f"infrastructure {log.stem[len('pytest-'):]:24} the lab was not usable (see {log.name})")
rows += lab_down
built = out / "build-failures.txt"
rows += built.read_text().splitlines() if built.exists() else []
(out / "failures.txt").write_text("".join(r + "\n" for r in rows))
print("\n".join(rows) if rows else "all passed")
kinds = {r.split()[0] for r in rows}
sys.exit(0 if not rows else 3 if kinds <= {"infrastructure", "setup"} else 1)
PY
rc_boots=$?
[ "$rc_boots" -ne 0 ] && exit "$rc_boots"
[ "$rc_compare" -eq 1 ] && { echo "== regression against the baseline: see $out/compare.txt"; exit 4; }
exit 0
