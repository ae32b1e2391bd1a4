"""`harness repro RESULT`: rerun exactly the boot a result records, and say if it reproduced.

A failed nightly leaves a result folder; this turns it back into a boot. Everything
comes from `result.json` (schema 2, harness/history/document.py): the target file
(refused if edited since: its sha256), the image by sha256 (a reference image is
rebuilt from its variant -- builds are deterministic, so the rebuilt file must have
the recorded sha256; a user's image must still be the same file), the mode (part of
the variant), the options (coherence, verify, until, extra QEMU arguments) and the
target's effective timeouts and verdict patterns. A board's result reruns on the
QEMU target of the same SoC, and says so. Outcomes are compared on what decides a
boot: pass or fail, the failure's kind and phase, and which checks failed.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import HarnessError
from .history.document import sha256_of
from .images.build import Variant, build
from .payload import Payload, from_build, from_user
from .targets import Target, Timeouts, Verdict, load, resolve

#: The QEMU target that stands in for a board of each SoC.
QEMU_FOR_MACHINE = {"virt": "qemu-virt", "imx8mp": "qemu-imx8mp"}
#: QEMU wires `-serial` options to the i.MX8M's UARTs in this order.
IMX8M_SERIAL_INDEX = {0x30860000: 0, 0x30890000: 1, 0x30880000: 2, 0x30A60000: 3}


@dataclass(frozen=True)
class ReproOutcome:
    """What decides whether a rerun reproduced a boot."""

    ok: bool
    failure: tuple[str, str] | None  # (kind, phase)
    failing: tuple[str, ...]  # failed checks, sorted

    def describe(self) -> str:
        head = (
            "completed"
            if self.ok
            else f"failed [{self.failure[0]}] in phase '{self.failure[1]}'"
            if self.failure
            else "failed"
        )
        checks = f"failing checks: {', '.join(self.failing)}" if self.failing else "no failing check"
        return f"{head}, {checks}"


def outcome_of(doc: dict[str, Any]) -> ReproOutcome:
    f = doc.get("failure_detail")
    failure = (str(f.get("kind")), str(f.get("phase"))) if isinstance(f, dict) else None
    failing = sorted(str(c.get("name")) for c in doc.get("checks") or [] if c.get("status") == "fail")
    return ReproOutcome(bool(doc.get("ok")), failure, tuple(failing))


@dataclass(frozen=True)
class Plan:
    """The boot to rerun: target, image, options, and what the record says happened."""

    source: Path  # the result.json
    doc: dict[str, Any]
    target: Target
    payload: Payload
    options: dict[str, Any]
    recorded: ReproOutcome
    notes: tuple[str, ...]

    @property
    def boot_id(self) -> str:
        return str((self.doc.get("boot") or {}).get("id", self.source.parent.name))


# -- finding the record -----------------------------------------------------------


def locate(spec: str) -> Path:
    """The result.json a RESULT argument names: a result folder, its result.json, or
    `junit.xml::TEST` (the test's `result_dir` property)."""
    if "::" in spec and spec.split("::", 1)[0].endswith(".xml"):
        xml, test = spec.split("::", 1)
        return _from_junit(Path(xml), test)
    path = Path(spec)
    if path.is_file() and path.suffix == ".xml":
        raise HarnessError(
            "a JUnit file needs the test case", file=path, field="RESULT", fix=f"name it: '{path}::TEST_NAME'"
        )
    if path.is_dir():
        if (path / "result.json").is_file():
            return path / "result.json"
        found = sorted(path.glob("*/result.json")) + sorted(path.glob("*/*/result.json"))
        if len(found) == 1:
            return found[0]
        raise HarnessError(
            "no result.json in this folder" if not found else f"{len(found)} results below this folder",
            file=path,
            field="RESULT",
            fix="give one result folder (it holds result.json, console.log, target.yaml)"
            + (f", e.g. {found[0].parent}" if found else ""),
        )
    if path.is_file():
        return path
    raise HarnessError(
        "no such file or folder",
        file=path,
        field="RESULT",
        fix="give a result folder, its result.json, or junit.xml::TEST",
    )


def _from_junit(xml: Path, test: str) -> Path:
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as exc:
        raise HarnessError(
            f"not a readable JUnit file: {exc}", file=xml, field="RESULT", fix="give the junit-*.xml a pytest run wrote"
        ) from None
    names = []
    for case in root.iter("testcase"):
        cls, name = case.get("classname", ""), case.get("name", "")
        keys = {name, f"{cls}::{name}", f"{cls}.{name}", f"{cls.replace('.', '/')}.py::{name}"}
        names.append(name)
        if test not in keys:
            continue
        dirs = [p.get("value", "") for p in case.iter("property") if p.get("name") == "result_dir"]
        if len(dirs) == 1:
            return locate(dirs[0])
        raise HarnessError(
            f"test case '{test}' " + ("recorded no result folder" if not dirs else f"booted {len(dirs)} times"),
            file=xml,
            field="property result_dir",
            fix="pass one of its result folders: " + ", ".join(dirs)
            if dirs
            else "only tests that boot through the `boot` fixture record one",
        )
    near = [n for n in names if test.split("[")[0] in n][:3]
    raise HarnessError(
        f"no test case '{test}'",
        file=xml,
        field="testcase",
        fix=f"use a test case's name, e.g. {', '.join(near or names[:3])}",
    )


def read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(
            f"not a result: {exc}", file=path, field="RESULT", fix="give the result.json a boot wrote (or its folder)"
        ) from None
    if not isinstance(doc, dict) or "ok" not in doc:
        raise HarnessError(
            "not a result (no 'ok')", file=path, field="RESULT", fix="give the result.json a boot wrote (or its folder)"
        )
    if int(doc.get("schema", 1)) < 2:
        raise HarnessError(
            f"schema {doc.get('schema', 1)}: it does not record the target file's and image's sha256",
            file=path,
            field="schema",
            fix="rerun the boot with this harness ('harness boot ...') instead",
        )
    return doc


def _need(doc: dict[str, Any], path: Path, dotted: str) -> Any:
    value: Any = doc
    for key in dotted.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            raise HarnessError(
                "missing", file=path, field=dotted, fix="this result cannot be rerun; boot again with 'harness boot'"
            )
        value = value[key]
    return value


# -- what to boot -------------------------------------------------------------------


def _same_target(doc: dict[str, Any], src: Path) -> Target:
    """The target file the boot used, refused if it was edited since."""
    recorded = _need(doc, src, "target_file.sha256")
    path = Path(_need(doc, src, "target_file.path"))
    if not path.is_file():
        path = resolve(str(_need(doc, src, "target_file.name")))
    now = sha256_of(path)
    if now != recorded:
        copy = src.parent / "target.yaml"
        raise HarnessError(
            f"edited since the boot (sha256 now {str(now)[:12]}..., recorded {recorded[:12]}...)",
            file=path,
            field="target_file.sha256",
            fix=f"restore it (cp {copy} {path}) or boot the edited target with 'harness boot'"
            if copy.is_file()
            else "restore the file the boot used, or boot with 'harness boot'",
        )
    return load(str(path))


def _qemu_twin(board: Target, uart: int | None, out: Path) -> Target:
    """The QEMU target of the board's SoC, its console wired to the UART the image prints on."""
    name = QEMU_FOR_MACHINE.get(board.machine)
    if name is None:
        raise HarnessError(
            f"no QEMU target for machine '{board.machine}'",
            file=board.path,
            field="harness.machine",
            fix="rerun it on the board: harness boot",
        )
    base = load(name)
    if uart is None or uart == base.console_uart or board.machine != "imx8mp":
        return base
    data: dict[str, Any] = yaml.safe_load(base.path.read_text())
    data["targets"]["main"]["drivers"]["QEMUDriver"]["extra_args"] = " ".join(
        ["-serial null"] * IMX8M_SERIAL_INDEX[uart]
    )
    data["harness"]["console_uart"] = uart
    data["images"] = {}  # set per boot; the base's relative paths mean nothing here
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{board.name}-on-qemu.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(str(path))


def _effective(target: Target, doc: dict[str, Any], src: Path, board: bool) -> Target:
    """The timeouts and verdict patterns the boot ran with (command-line overrides included)."""
    tf = doc["target_file"]
    verdict = tf.get("verdict") or {}
    out = dataclasses.replace(
        target,
        verdict=Verdict(
            expect=tuple(verdict.get("expect") or ()),
            fail_on=tuple(verdict.get("fail_on") or ()),
            silent_ok=verdict.get("silent_ok"),
        ),
    )
    if not board and isinstance(tf.get("timeouts"), dict):
        try:
            out = dataclasses.replace(out, timeouts=Timeouts(**tf["timeouts"]))
        except TypeError as exc:
            raise HarnessError(
                f"unreadable: {exc}", file=src, field="target_file.timeouts", fix="boot again with 'harness boot'"
            ) from None
    return out


def _payload(doc: dict[str, Any], src: Path, target: Target) -> Payload:
    """The image by sha256: rebuilt from its variant (reference) or the same file (user)."""
    want = _need(doc, src, "payload.sha256")
    kind = _need(doc, src, "payload.kind")
    if kind == "reference":
        raw = _need(doc, src, "payload.variant")
        try:
            variant = Variant(**raw)
        except TypeError as exc:
            raise HarnessError(
                f"not a variant: {exc}", file=src, field="payload.variant", fix="boot again with 'harness boot'"
            ) from None
        payload = from_build(build(variant), target.image_format)
        got = sha256_of(payload.elf)
        if got != want:
            harness = (doc.get("versions") or {}).get("harness", "?")
            raise HarnessError(
                f"rebuilt from its variant the image is not the one booted "
                f"(sha256 {str(got)[:12]}..., recorded {want[:12]}...): the "
                f"reference loader's sources changed",
                file=payload.elf,
                field="payload.sha256",
                fix=f"check out the harness the boot ran ({harness}) and rerun",
            )
        return payload
    path = Path(_need(doc, src, "payload.path"))
    got = sha256_of(path)
    if got != want:
        raise HarnessError(
            "the image changed since the boot" if got else "the image is gone",
            file=path,
            field="payload.sha256",
            fix=f"bring back the file with sha256 {want[:16]}... (or boot the new one with 'harness boot --image')",
        )
    return from_user(path)


def plan(spec: str, work: Path) -> Plan:
    """Everything a rerun needs, checked before anything boots (`work`: where a board's
    QEMU twin target file goes)."""
    src = locate(spec)
    doc = read(src)
    options = _need(doc, src, "options")
    target = _same_target(doc, src)
    notes: list[str] = []
    board = target.remote and target.lab != "virtual"
    if board:
        variant = (doc.get("payload") or {}).get("variant") or {}
        twin = _qemu_twin(target, variant.get("uart_base"), work)
        notes.append(
            f"note: {target.name} is a board: rerunning on {twin.name}, the QEMU target "
            f"of the same SoC ({target.machine}); board-only effects (DRAM after reset, "
            f"its U-Boot, its timing) are not part of this rerun"
        )
        target = twin
    target = _effective(target, doc, src, board)
    return Plan(
        src,
        doc,
        target,
        _payload(doc, src, target),
        {
            "coherence": bool(options.get("coherence")),
            "verify": bool(options.get("verify")),
            "until": str(options.get("until") or "verdict"),
            **({"early_map": True} if options.get("early_map") else {}),
            "extra": [str(a) for a in options.get("extra") or []],
            **({"cache_start": str(options["cache_start"])} if options.get("cache_start") else {}),
        },
        outcome_of(doc),
        tuple(notes),
    )


def verdict_line(recorded: ReproOutcome, now: ReproOutcome) -> tuple[bool, str]:
    """(reproduced?, the line that says so)."""
    if recorded == now:
        return True, f"reproduced: {now.describe()}, as recorded"
    return False, f"NOT reproduced: recorded {recorded.describe()}; this run {now.describe()}"
