"""A lab run for tests/test_faults.py: hold the place of a running virtual lab
(HARNESS_LAB_COORDINATOR) and boot on it twice, while the outer test kills the lab's
coordinator or exporter. Writes what happened as JSON (argument 3), step by step.

    python tests/helpers/lab_fault_run.py TARGET.yaml RESULTS_DIR OUT.json

Not a test module: it runs in a process of its own because labgrid keeps one
coordinator session per process (the outer run's own lab must stay untouched).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.lab import lab_session
from harness.session import BootSession
from harness.targets import load


def main(target_path: str, results: str, out: str) -> int:
    record: dict[str, Any] = {"boots": []}
    out_path = Path(out)

    def save() -> None:
        tmp = out_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(out_path)

    target = load(target_path)
    try:
        with lab_session(target, Path(results) / "lab") as run:
            record["acquired"] = run.place
            save()
            session = BootSession(target, Path(results))
            try:
                payload = session.payload(session.variant())
                for i in range(2):
                    start = time.monotonic()
                    try:
                        f = session.boot(payload, name=f"boot-{i}", reuse=False).result.failure
                        entry: dict[str, Any] = {"ok": f is None}
                        if f is not None:
                            entry.update(kind=f.kind, phase=f.phase, message=f.message, last_lines=f.last_lines)
                    except HarnessError as exc:
                        entry = {"ok": False, "error": str(exc)}
                    entry["seconds"] = round(time.monotonic() - start, 3)
                    record["boots"].append(entry)
                    save()
            finally:
                session.close()
    except HarnessError as exc:
        record["error"] = str(exc)
    record["ended"] = True
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
