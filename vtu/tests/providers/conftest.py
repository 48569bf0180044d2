"""Helpers for adapter tests: a CallLog sink, a settable clock, fixture loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vtu.providers.base import CallLog

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load_fixture(vendor: str, name: str) -> dict[str, Any]:
    """A vendor payload fixture: {"source": "...", ...}. Every fixture names where it came from."""
    data = json.loads((FIXTURES / vendor / name).read_text())
    assert data.get("source"), f"fixture {vendor}/{name} does not cite its source"
    return data


class Calls(list):
    """Collects the CallLogs an adapter reports (the `on_call` sink)."""

    def __call__(self, log: CallLog) -> None:
        self.append(log)

    def dump(self) -> str:
        return json.dumps([log.__dict__ for log in self], default=str)


class Clock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def clock() -> Clock:
    return Clock()


SECRETS = {
    "amigo": {"API_KEY": "amg_test_s3cr3tAmigoToken0001"},
    "vtpass": {"API_KEY": "vtp-api-key-s3cr3t-0002", "PUBLIC_KEY": "PK_s3cr3tPublic0003", "SECRET_KEY": "SK_s3cr3tSecret0004"},
    "clubkonnect": {"USER_ID": "CK100S3CR3T05", "API_KEY": "CKAPIKEYS3CR3T0006"},
}
BASE_URLS = {
    "amigo": "https://amigo.test/api",
    "vtpass": "https://vtpass.test/api",
    "clubkonnect": "https://clubkonnect.test",
}


def provider_config(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "NAME": name, "BASE_URL": BASE_URLS[name], "CONNECT_TIMEOUT_SECONDS": 0.5, "READ_TIMEOUT_SECONDS": 1.0,
        "SANDBOX": False, **SECRETS[name], **overrides,
    }


def secret_values(name: str) -> list[str]:
    return list(SECRETS[name].values())
