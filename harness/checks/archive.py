"""The archive-hash check, before any boot: the loader's hash members (`kernel.bin`,
`app.bin`) against the files archived beside them.

seL4's loader refuses an archive whose digests disagree ('ERROR: Hashes are
different'); said before power-on, a mismatch names the file and both digests, and
the boot still runs so the loader's own words decide.
"""

from __future__ import annotations

from ..errors import HarnessError
from ..payload import Payload
from .check import Check


def archive_hash_check(payload: Payload) -> Check | None:
    """The loader's hash members against the archived files, before any boot
    (None: the image has no hash members)."""
    try:
        _ = payload.members  # parsed here: an image without an archive raises now
    except HarnessError:
        return None  # no archive to read: the boot says what the loader makes of it
    try:
        hashes = payload.hashes
    except HarnessError as exc:
        return Check("archive-hash", "fail", str(exc))
    if not hashes:
        return None
    bad = [h for h in hashes if not h.ok]
    if bad:
        return Check(
            "archive-hash",
            "fail",
            f"{'/'.join(sorted({h.algorithm for h in bad}))}: "
            + "; ".join(h.describe() for h in bad)
            + " (the loader will refuse it: 'ERROR: Hashes are different')",
        )
    return Check("archive-hash", "pass", "; ".join(h.describe() for h in hashes))
