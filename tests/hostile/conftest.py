"""Print the OpenAPI fuzz's per-identity summary at the end of the run (a passing test's
stdout is swallowed by pytest)."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    module = sys.modules.get("tests.hostile.test_openapi_fuzz")
    lines = getattr(module, "SUMMARY", None)
    if lines:
        terminalreporter.section("hostile input")
        for line in lines:
            terminalreporter.write_line(line)
