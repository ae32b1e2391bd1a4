"""Typed access to one mapping of a target file, and the value kinds its fields take.

Every value is checked where it is read, and a bad one is one error naming the file, the
field (its dotted path) and the fix: the target parser (`targets`) and the sections it
delegates read their YAML through here.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import HarnessError

T = TypeVar("T")

_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxstring = 2, 4, 4, 60


def show(v: Any) -> str:
    """A value for a message, bounded (YAML aliases can nest a list a billion items deep)."""
    text = _SHOW.repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


class Fields:
    """Typed access to one mapping of the YAML with errors that point at the field."""

    def __init__(self, path: Path, prefix: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise HarnessError(
                "must be a mapping",
                file=path,
                field=prefix,
                fix=f"write '{prefix.rsplit('.', 1)[-1]}:' followed by indented keys",
            )
        self.path, self.prefix, self.data = path, prefix, data
        self.used: set[str] = set()

    def get(
        self, key: str, kind: Callable[[Any], T], default: T | None = None, required: bool = False, hint: str = ""
    ) -> T:
        self.used.add(key)
        where = f"{self.prefix}.{key}"
        if key not in self.data:
            if required:
                raise HarnessError("missing", file=self.path, field=where, fix=f"add '{key}: {hint}'")
            return default  # type: ignore[return-value]
        try:
            return kind(self.data[key])
        except (TypeError, ValueError) as exc:
            raise HarnessError(
                f"bad value {show(self.data[key])}: {exc}",
                file=self.path,
                field=where,
                fix=f"use {hint or kind.__name__}",
            ) from None

    def sub(self, key: str) -> "Fields | None":
        self.used.add(key)
        return Fields(self.path, f"{self.prefix}.{key}", self.data[key]) if key in self.data else None

    def done(self) -> None:
        extra = sorted((k for k in self.data if k not in self.used), key=str)  # keys: any YAML scalar
        if extra:
            raise HarnessError(
                f"unknown field '{extra[0]}'",
                file=self.path,
                field=f"{self.prefix}.{extra[0]}",
                fix=f"remove it or use one of: {', '.join(sorted(self.used))}",
            )


def as_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("not a number")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v.replace("_", ""), 0)
    raise ValueError("not a number")


def choice(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if not isinstance(v, (str, int)) or isinstance(v, bool) or str(v) not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return str(v)

    check.__name__ = " | ".join(allowed)
    return check


def seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return float(v)


def compiles(rx: str) -> str:
    """`rx` if it is a regular expression, else ValueError saying why (re.compile also
    raises OverflowError and RecursionError)."""
    try:
        re.compile(rx)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"/{show(rx)[1:-1]}/ is not a regular expression ({exc})") from None
    return rx


def regex(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValueError("must be a regular expression (a string)")
    return compiles(str(v))


def text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("must be a string")
    return v


def flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def commands(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
        raise ValueError("must be a list of strings")
    return tuple(v)
