"""Synthetic result documents (result.json schema 2) for history tests and benchmarks."""

from __future__ import annotations

from typing import Any


def make_doc(
    run: str,
    started: float,
    *,
    target: str = "qemu-virt",
    image: str = "early-mmu-none-1M",
    mode: str = "early-mmu",
    unpack_s: float = 0.070,
    modeled_s: float = 0.0013,
    insns: int = 123456,
    ok: bool = True,
    checks: dict[str, str] | None = None,
    image_sha: str = "a" * 64,
    coherence: bool = True,
    boot: str | None = None,
) -> dict[str, Any]:
    """One boot's document with the figures the history stores."""
    checks = checks or {"segments": "pass", "bss": "pass", "handoff": "pass", "kernel": "pass"}
    return {
        "schema": 2,
        "run": {"id": run, "started": started, "label": ""},
        "boot": {"id": boot or f"{target}/{run}/{image}", "started": started},
        "versions": {"harness": "0.1.0 (test)", "qemu": "QEMU emulator version 10.0.3", "host": "h", "u-boot": None},
        "target": target,
        "target_file": {"name": target, "path": f"targets/{target}.yaml", "sha256": "t" * 64},
        "image": image,
        "payload": {
            "name": image,
            "label": image,
            "path": f"/x/{image}.elf",
            "sha256": image_sha,
            "kind": "reference",
            "contract": "mmu-off",
            "archive_bytes": 1 << 20,
            "unpacked_bytes": (1 << 20) + 4096,
        },
        "mode": mode,
        "options": {"coherence": coherence, "verify": False, "until": "verdict", "extra": []},
        "ok": ok,
        "failure": None if ok else "[product] phase 'unpack': loader error",
        "failure_detail": None if ok else {"kind": "product", "phase": "unpack", "message": "x", "last_lines": []},
        "verdict": {
            "status": "pass" if ok else "fail",
            "how": "line",
            "what": "probe",
            "text": "@h probe verdict ok",
            "after_s": 0.2,
        },
        "checks": [{"name": n, "status": s, "message": f"{n} {s}"} for n, s in checks.items()],
        "timeline": {
            "unpack_window": {"host_s": unpack_s, "target_s": unpack_s * 0.9, "ticks": 1000, "freq": 62500000},
            "phases": [],
            "events": [],
            "uboot": None,
        },
        "spans": [
            {"name": "firmware", "start_s": 0.0, "host_s": 0.05, "target_s": None, "parent": None},
            {"name": "loader", "start_s": 0.05, "host_s": 0.01, "target_s": None, "parent": None},
            {"name": "unpack", "start_s": 0.06, "host_s": unpack_s, "target_s": unpack_s * 0.9, "parent": None},
            {"name": "image kernel", "start_s": 0.06, "host_s": unpack_s / 2, "target_s": None, "parent": "unpack"},
            {"name": "kernel", "start_s": 0.06 + unpack_s, "host_s": 0.2, "target_s": None, "parent": None},
        ],
        "properties": {},
        "modeled": {
            "label": "modeled",
            "total_s": modeled_s,
            "parts": {"uncached data": modeled_s / 4, "cached copy": modeled_s * 3 / 4},
            "profile": {"name": "imx8mp-armstone"},
        }
        if coherence
        else None,
        "coherence": {
            "counts": {
                "insns": insns,
                "ifetch_cacheable": insns - 10,
                "ifetch_uncached": 10,
                "loads": {"cacheable": {"8": 500, "16": 20}, "uncached": {"4": 3}},
                "stores": {"cacheable": {"16": 700}, "uncached": {}},
                "cmo": {"dc cvac": 4096},
                "by_target": {},
            },
            "hazards": [],
        }
        if coherence
        else None,
        "console_log": f"/x/{run}/console.log",
    }
