"""One error type for everything a user can get wrong.

A HarnessError carries where the problem is (file, field) and how to fix it, so
the CLI and the pytest plugin can print one clear line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing tool, a failed build."""

    def __init__(
        self, what: str, *, file: str | Path | None = None, field: str | None = None, fix: str | None = None
    ) -> None:
        self.what = what
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        text = f"{where}: {self.what}" if where else self.what
        return f"{text} (fix: {self.fix})" if self.fix else text


class BootFailure(Exception):
    """A boot that did not reach its end: timeout, loader error, lost console.

    `kind` is "infrastructure" (no prompt, QEMU died, lost console), "setup" (the
    boot set-up: U-Boot's bootm size limit, an overlap; a target file or U-Boot
    configuration change fixes it) or "product" (the loader or kernel reported an
    error), so nightly CI can tell a broken lab or set-up from a broken loader.
    """

    def __init__(self, message: str, *, kind: str, phase: str, last_lines: list[str] | None = None) -> None:
        self.kind = kind
        self.phase = phase
        self.last_lines = last_lines or []
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        tail = "\n".join(f"    | {line}" for line in self.last_lines)
        head = f"[{self.kind}] phase '{self.phase}': {self.message}"
        return f"{head}\n  last console lines:\n{tail}" if tail else head
