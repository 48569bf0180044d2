"""The fault-injection summary: chaos.report writes what the chaos tests recorded, and
bench/chaos_report.py renders it into docs/PERFORMANCE.md between its own markers, keeping
the prose around them and saying when a run failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURCHASES = {"scenario": "provider chaos", "seed": 42, "purchases": 14, "final_states": {"successful": 9, "failed": 4,
             "reversed": 1}, "max_deliveries_per_purchase": 1, "provider_fates": {"timeout": 2}, "reversals": 1,
             "invariants": "hold"}
DEPOSITS = {"gateway": "flutterwave", "seed": 7, "deposits": 12, "paid": 9, "credited_once": 9, "credited_unpaid": 0,
            "deliveries": 30, "forged_refused": 9, "invariants": "hold"}


def test_summary_is_written_with_scenarios_and_outcomes(tmp_path, monkeypatch):
    from chaos import report

    monkeypatch.setattr(report, "_scenarios", [])
    monkeypatch.setattr(report, "_tests", {})
    monkeypatch.setenv("CHAOS_REPORT", str(tmp_path / "chaos.json"))
    assert report.write(long=True) is None  # no chaos test ran: nothing written
    report.record(**PURCHASES)
    report.test_outcome("tests/chaos/a.py::t", "failed")
    report.test_outcome("tests/chaos/a.py::t", "passed")  # a teardown pass never hides a failed call
    report.test_outcome("tests/chaos/b.py::t", "passed")
    summary = json.loads(report.write(long=True).read_text())
    assert summary["mode"] == "long" and summary["passed"] is False
    assert summary["tests"] == {"tests/chaos/a.py::t": "failed", "tests/chaos/b.py::t": "passed"}
    assert summary["scenarios"] == [PURCHASES] and summary["machine"]["nproc"]


def _render(tmp_path: Path, summary: dict, report_text: str) -> tuple[int, str]:
    source, target = tmp_path / "chaos.json", tmp_path / "PERFORMANCE.md"
    source.write_text(json.dumps(summary))
    target.write_text(report_text)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "chaos_report.py"), "--input", str(source),
                           "--report", str(target)], capture_output=True, text=True, timeout=60)
    return done.returncode, target.read_text()


def test_rendered_between_markers_and_rerendered_in_place(tmp_path):
    summary = {"date": "2026-12-04 10:00 WAT", "mode": "long", "machine": {"nproc": 2}, "passed": True,
               "tests": {"tests/chaos/x.py::t": "passed"}, "scenarios": [PURCHASES, DEPOSITS]}
    status, text = _render(tmp_path, summary, "# Performance\n\nintro\n\n## Scaling out\n\nprose\n")
    assert status == 0
    assert text.index("## Fault injection") < text.index("<!-- chaos:begin") < text.index("## Scaling out")
    assert "| provider chaos | 42 | 14 | failed 4, reversed 1, successful 9 | 1 | 1 |" in text
    assert "| flutterwave | 7 | 12 | 9 | 9 | 0 | 30 | 9 | hold |" in text and "1/1 chaos tests passed" in text

    failed = {**summary, "passed": False, "tests": {"tests/chaos/x.py::t": "failed"}, "scenarios": []}
    status, again = _render(tmp_path, failed, text)
    assert status == 1 and again.count("<!-- chaos:begin") == 1 and "intro" in again and "prose" in again
    assert "**Failed:** `tests/chaos/x.py::t`" in again and "provider chaos" not in again
