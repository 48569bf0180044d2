"""One reset token, several requests at once: exactly one sets the password (threads on
PostgreSQL). Run under the shared lock: flock /tmp/pg-heavy.lock ..."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import services, tokens
from accounts.tests.factories import UserFactory
from audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _until(condition, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)  # polling a condition with a bound
    return False


def test_one_reset_token_resets_once_under_concurrent_requests(monkeypatch):
    user = UserFactory()
    token = tokens.password_reset_token(user)
    entered: list[str] = []
    release = threading.Event()
    real_validate = services._validate_password

    def validate_and_hold(password, *args, **kwargs):
        # Each request that got past the token check stops here until the test releases it.
        entered.append(password)
        release.wait(timeout=30)
        return real_validate(password, *args, **kwargs)

    monkeypatch.setattr(services, "_validate_password", validate_and_hold)
    answers: dict[str, int] = {}

    def reset(password: str) -> None:
        try:
            response = APIClient().post(
                "/api/v1/auth/reset-password", {"token": token, "new_password": password}, format="json"
            )
            answers[password] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=reset, args=(f"racing-pass-{i}-xyz",)) for i in range(3)]
    for thread in threads:
        thread.start()
    assert _until(lambda: len(entered) >= 1)
    # Either a second request also got past the token check (the race), or the others wait on
    # the first one's row lock, as they must.
    assert _until(lambda: len(entered) >= 2 or _waiting_on_a_row_lock())
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [200, 400, 400], answers
    winner = next(password for password, status in answers.items() if status == 200)
    user.refresh_from_db()
    assert user.check_password(winner)
    assert AuditLog.objects.filter(action="user.password_reset").count() == 1
