"""bench/run_all.py's report block: per-process memory, per-round invariants, the scaled-out
p95, and a crashed scenario keeping its previous figures, marked with the run they are from
(no database, no wrk: the rendering only)."""

from __future__ import annotations

import pytest

from bench import run_all

MACHINE = {"nproc": 2, "cpu": "test cpu", "memory_gb": 8, "postgresql": "15", "redis": "7", "python": "3.11",
           "kernel": "6"}
SUMMARY = {"ok_per_s": 50.0, "p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, "failures": 0}
MEMORY = {"web_processes": 2, "web_peak_mb": 110.5, "web_mb": [110.5, 98.0], "worker_processes": 1,
          "worker_peak_mb": 120.0, "worker_mb": [120.0]}


def _outcome(name: str, result: dict | None, status: int = 0) -> dict:
    return {"name": name, "status": status, "result": result, "memory": MEMORY, "profile": ""}


def _result(**extra) -> dict:
    return {"config": {"workers": 4, "worker_class": "sync", "connections": 16, "duration": 10, "rounds": 3},
            "summaries": {"bare": {**SUMMARY, "ok_per_s": 100.0}, "transfer": SUMMARY}, "findings": [], **extra}


@pytest.fixture
def report(tmp_path, monkeypatch):
    path = tmp_path / "PERFORMANCE.md"
    path.write_text(f"# Performance\n\nprose before\n\n{run_all.BEGIN}\n{run_all.END}\n\nprose after\n")
    monkeypatch.setattr(run_all, "REPORT", path)
    monkeypatch.setattr(run_all, "machine", lambda: MACHINE)
    return path


def test_memory_per_process_round_invariants_and_scaled_p95(report):
    rounds = [{"after": "round 1", "findings": [], "seconds": 0.1},
              {"after": "round 2", "findings": ["balance_mismatch"], "seconds": 0.1}]
    mixed = _result(phase2={"ok_per_s_median": 40, "p50_ms_median": 12, "p95_ms_median": 33, "p99_ms_median": 44,
                            "failures": 0, "drained": {}, "accounting": [], "findings": []})
    run_all.write_report([_outcome("transfers", _result(invariants_per_round=rounds)), _outcome("mixed", mixed)],
                         "2026-12-01 10:00 UTC", [])
    text = report.read_text()
    assert "peak memory (VmHWM) per process, MB: web [110.5, 98.0] (largest 110.5); worker [120.0]" in text
    assert "ledger invariants after each of 2 rounds: round 2: balance_mismatch" in text
    assert "p95 33 ms, p99 44 ms" in text
    assert text.startswith("# Performance\n\nprose before") and text.rstrip().endswith("prose after")


def test_a_crashed_scenario_keeps_its_previous_figures_with_their_date(report):
    run_all.write_report([_outcome("transfers", _result()), _outcome("webhooks", _result())], "2026-12-01 10:00 UTC", [])
    run_all.write_report([_outcome("transfers", None, status=1), _outcome("webhooks", _result())],
                         "2026-12-02 10:00 UTC", [])
    text = report.read_text()
    assert "### transfers — **crashed in this run** (exit status 1" in text
    assert "_The figures below are from the run of 2026-12-01 10:00 UTC, not this one._" in text
    assert "| transfer | 50.0 | 10.0 | 20.0 | 30.0 | 0.50 | 0 |" in text  # the earlier figures, kept
    assert "Run of 2026-12-02 10:00 UTC" in text

    run_all.write_report([_outcome("transfers", None, status=-9), _outcome("webhooks", None, status=1)],
                         "2026-12-03 10:00 UTC", [])
    again = report.read_text()
    assert again.count("from the run of 2026-12-01 10:00 UTC") == 1  # still the original run's date
    assert "from the run of 2026-12-02 10:00 UTC" in again  # webhooks: its figures are from the 2nd run
    assert again.count("| transfer | 50.0 |") == 2
    assert again.count(run_all.BEGIN) == 1


def test_a_scenario_that_never_had_figures_says_so(report):
    run_all.write_report([_outcome("purchases", None, status=1)], "2026-12-01 10:00 UTC", [])
    assert "No earlier figures for this scenario in this report." in report.read_text()
