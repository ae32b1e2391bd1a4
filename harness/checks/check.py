"""What every check returns: pass, fail (saying what is wrong) or skip (saying which
evidence is missing: a skip is never a pass)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass" | "fail" | "skip"
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def _pass(name: str, msg: str) -> Check:
    return Check(name, "pass", msg)


def _fail(name: str, problems: list[str]) -> Check:
    return Check(name, "fail", "; ".join(problems))


def _skip(name: str, why: str) -> Check:
    return Check(name, "skip", why)
