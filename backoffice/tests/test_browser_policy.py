"""Where Chromium is missing, the browser tests skip loudly; under CI a missing browser fails."""

from __future__ import annotations

import pytest

from backoffice.tests.test_browser import _unavailable


def test_a_missing_browser_skips_with_a_loud_message(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.warns(UserWarning, match="BROWSER TESTS NOT RUN: no Chromium"), pytest.raises(pytest.skip.Exception):
        _unavailable("no Chromium at /nowhere")


def test_under_ci_a_missing_browser_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing browser is a failure"):
        _unavailable("no Chromium at /nowhere")
