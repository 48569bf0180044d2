"""Every error code the code can raise is in the registry (config/errors.py)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from config.errors import ERROR_CODES, ApiError

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "accounts", "audit", "wallets", "pricing", "vtu", "payments", "backoffice")
# Where application code names an error code: `code = "X"` class attributes, raising with
# `code="X"` (ApiError and DRF exceptions), error_response("X"), and {"error_code": "X"}.
_CODE = r"""["']([A-Z][A-Z0-9_]{2,})["']"""
_CODE_PATTERNS = [
    re.compile(r"^\s+code\s*=\s*" + _CODE + r"\s*(?:#.*)?$", re.MULTILINE),
    re.compile(r"(?:Error|Denied|Failed|Exception|Rejected|Throttled)\([^()]*\bcode\s*=\s*" + _CODE),
    re.compile(r"error_response\(\s*" + _CODE),
    re.compile(r"""["']error_code["']\s*:\s*""" + _CODE),
]


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _all_subclasses(sub)
    return found


def test_every_api_error_subclass_has_a_registered_code():
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if ".tests" in module.name or ".migrations" in module.name or module.name.endswith("settings_test"):
                continue
            importlib.import_module(module.name)
    subclasses = _all_subclasses(ApiError)
    assert subclasses, "no ApiError subclasses found"
    unregistered = {cls.__qualname__: cls.code for cls in subclasses if cls.code not in ERROR_CODES}
    assert unregistered == {}


def test_every_code_literal_in_the_source_is_registered():
    unregistered: dict[str, str] = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "tests" in path.parts:
                continue
            text = path.read_text()
            for pattern in _CODE_PATTERNS:
                for code in pattern.findall(text):
                    if code not in ERROR_CODES and not code.isdigit():
                        unregistered[code] = str(path.relative_to(ROOT))
    assert unregistered == {}


def test_an_unregistered_code_cannot_be_raised():
    with pytest.raises(RuntimeError):
        ApiError(code="NOT_A_REAL_CODE")
    with pytest.raises(RuntimeError):

        class Bad(ApiError):
            code = "ALSO_NOT_REAL"


def test_statuses_are_http_error_statuses():
    for code, (status, description) in ERROR_CODES.items():
        assert 400 <= status <= 599, code
        assert description, code
