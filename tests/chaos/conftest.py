"""Collect each chaos test's outcome for the run's summary (chaos.report), written once at the
end of the session to bench/results/chaos.json (bench/chaos_report.py renders it)."""

from __future__ import annotations

import pytest

from chaos import report as chaos_report
from chaos.scenarios import LONG


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        chaos_report.test_outcome(report.nodeid, report.outcome)


def pytest_sessionfinish(session: pytest.Session) -> None:
    written = chaos_report.write(long=LONG)
    if written is not None:
        print(f"\nchaos summary: {written}")
