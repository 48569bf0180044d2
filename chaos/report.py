"""The machine-readable summary of a chaos run (`make chaos`, and the short run in make test):
what each scenario saw (seed, purchases by final state, most deliveries for one purchase,
payments credited once, invariants) and each test's outcome, written at the end of the
session to bench/results/chaos.json (CHAOS_REPORT overrides the path). bench/chaos_report.py
renders it into docs/PERFORMANCE.md. A scenario records its figures only once its verdict
passed; a failed test shows in `tests` with its outcome.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "bench" / "results" / "chaos.json"

_scenarios: list[dict[str, Any]] = []
_tests: dict[str, str] = {}


def record(**figures: Any) -> None:
    _scenarios.append(figures)


def test_outcome(nodeid: str, outcome: str) -> None:
    if outcome != "passed" or nodeid not in _tests:  # a failed phase is never overwritten by a later pass
        _tests[nodeid] = outcome


def _machine() -> dict[str, Any]:
    def first(path: str, prefix: str) -> str:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return ""
        return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), "")

    memory_kb = first("/proc/meminfo", "MemTotal").split(" ")[0]
    return {"nproc": os.cpu_count(), "cpu": first("/proc/cpuinfo", "model name") or platform.processor(),
            "memory_gb": round(int(memory_kb) / 1024 / 1024, 1) if memory_kb.isdigit() else None,
            "python": platform.python_version(), "kernel": platform.release()}


def path() -> Path:
    return Path(os.environ.get("CHAOS_REPORT") or DEFAULT_PATH)


def write(*, long: bool) -> Path | None:
    """Write the summary if this session ran any chaos test. Returns the path written."""
    if not _tests:
        return None
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "mode": "long" if long else "short",
        "machine": _machine(),
        "tests": dict(sorted(_tests.items())),
        "passed": all(outcome == "passed" for outcome in _tests.values()),
        "scenarios": _scenarios,
    }
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return target
