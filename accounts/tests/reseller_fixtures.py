"""Fixtures and helpers of the reseller API tests (keys, callbacks, KYC); test modules import
the fixtures they use by name."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from accounts import api_keys, callback_http, callbacks
from accounts.models import User
from accounts.tests import callback_receiver


def issue_key(user: User, scopes: list[str] | None = None, **kwargs: Any) -> str:
    """A fresh API key's plaintext."""
    return api_keys.api_key_create(user=user, name="test key", scopes=scopes or ["read"], **kwargs).plaintext


def rows_containing(needle: str) -> list[str]:
    """Every database row (any model, any field) whose values contain `needle`."""
    found = []
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if model._meta.db_table not in tables:  # a model another app has not migrated yet
            continue
        for row in model.objects.all().values():
            if needle in repr(row):
                found.append(f"{model._meta.label} {row.get('id')}")
    return found


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(callbacks, "clock", fake)
    return fake


@pytest.fixture(scope="session")
def callback_certs(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return callback_receiver.make_certificates(tmp_path_factory.mktemp("callback-certs"))


@pytest.fixture
def receiver(callback_certs: tuple, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[callback_receiver.Receiver]:
    """An HTTPS receiver at https://hooks.reseller.test:<port>/..., the name resolving to
    127.0.0.1 and its certificate trusted, as a reseller's real server would be."""
    ca, cert, key = callback_certs
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = True  # the receiver is on loopback
    settings.CALLBACK_TIMEOUT_SECONDS = 2.0
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host == callback_receiver.HOSTNAME:
            return ["127.0.0.1"]
        raise OSError(f"no such host in tests: {host}")

    def trusting_context() -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca))
        return context

    monkeypatch.setattr(callback_http, "resolve", resolve)
    monkeypatch.setattr(callback_http, "ssl_context", trusting_context)
    server = callback_receiver.start(tls=(cert, key))
    server.resolver_calls = calls  # type: ignore[attr-defined]
    yield server
    callback_receiver.stop(server)
