"""Suite-wide guards and fixtures.

- The network is closed: only loopback and unix sockets may be connected to (PostgreSQL,
  Redis, local fakes). Vendor HTTP goes through `responses` or a local fake.
- Outbound HTTP inside `transaction.atomic` fails (DESIGN §2), however it is sent.
- Each test starts with an empty cache space (throttle and lockout counters), deleted by
  this run's key prefix only, never FLUSHDB (other runs may share the Redis DB index).
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Iterator

import pytest
import requests

from config.http import assert_no_transaction

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = address[0] if isinstance(address, tuple) else None
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except (TypeError, ValueError):
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _allowed(address):
        raise ConnectionRefusedError(f"network is closed to tests: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _allowed(address):
        raise ConnectionRefusedError(f"network is closed to tests: {address!r}")
    return _real_connect_ex(self, address)


_real_session_send = requests.Session.send


def _guarded_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
    assert_no_transaction()
    return _real_session_send(self, request, **kwargs)


def _only_testcase_blocks(connection: object) -> bool:
    blocks = connection.atomic_blocks  # type: ignore[attr-defined]
    return bool(blocks) and all(getattr(block, "_from_testcase", False) for block in blocks)


def _install_commit_emulation() -> None:
    """Inside a non-transactional test everything runs in TestCase's never-committed
    transaction, so on_commit callbacks (task dispatch, e-mails) would never run. Emulate a
    real commit: a callback runs when the application's outermost atomic block exits
    successfully, or at once when no application block is open, exactly as in production."""
    from django.db import transaction
    from django.db.backends.base.base import BaseDatabaseWrapper

    real_on_commit = BaseDatabaseWrapper.on_commit
    real_exit = transaction.Atomic.__exit__

    def on_commit(self, func, robust=False):
        if _only_testcase_blocks(self):
            return func()
        return real_on_commit(self, func, robust)

    def atomic_exit(self, exc_type, exc_value, traceback):
        connection = transaction.get_connection(self.using)
        result = real_exit(self, exc_type, exc_value, traceback)
        if exc_type is None and not getattr(self, "_from_testcase", False) and _only_testcase_blocks(connection):
            pending, connection.run_on_commit = connection.run_on_commit, []
            for _sids, func, _robust in pending:
                func()
        return result

    BaseDatabaseWrapper.on_commit = on_commit  # type: ignore[method-assign]
    transaction.Atomic.__exit__ = atomic_exit  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    requests.Session.send = _guarded_send  # type: ignore[method-assign]
    _install_commit_emulation()


def _clear_test_cache() -> None:
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    _clear_test_cache()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def user(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff_user(db):
    from accounts.tests.factories import StaffFactory

    return StaffFactory(is_superuser=True)


def authenticate(client, user, *, otp_verified=False):
    """Give `client` a JWT access token for `user`, as the API login issues it (a staff
    member's is a staff session, accounts/session_tokens.py)."""
    from accounts.services import tokens_for

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user, otp_verified=otp_verified)['access']}")
    return client


@pytest.fixture
def user_client(api_client, user):
    return authenticate(api_client, user)


@pytest.fixture
def staff_client(staff_user):
    from rest_framework.test import APIClient

    return authenticate(APIClient(), staff_user)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted exactly as production formats it."""
    import logging

    root = logging.getLogger()
    formatter = next((h.formatter for h in root.handlers if h.formatter is not None), None)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
