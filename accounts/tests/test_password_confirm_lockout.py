"""Wrong passwords given to confirm a change (change-password, the PIN's password route) count
like failed log-ins: a stolen access token cannot be used to guess the password there."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditLog
from conftest import authenticate

pytestmark = pytest.mark.django_db
IP = "10.1.2.3"


def _client(user: User, ip: str = IP) -> APIClient:
    return authenticate(APIClient(REMOTE_ADDR=ip), user)


def _change_password(client: APIClient, current: str):
    return client.post(
        "/api/v1/auth/change-password", {"current_password": current, "new_password": "fresh-pass-321"}, format="json"
    )


def _change_pin(client: APIClient, password: str):
    return client.post("/api/v1/auth/pin", {"pin": "9753", "password": password}, format="json")


@pytest.mark.parametrize("attempt", [_change_password, _change_pin])
def test_wrong_passwords_lock_the_route_and_the_login_from_that_ip(attempt, settings):
    user = UserFactory()
    client = _client(user)
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP):
        wrong = attempt(client, "not-the-password")
        assert wrong.status_code == 400
        assert wrong.json()["error_code"] == "INVALID_PASSWORD"
    locked = attempt(client, PASSWORD)
    assert locked.status_code == 403
    assert locked.json()["error_code"] == "LOGIN_LOCKED"
    assert int(locked["Retry-After"]) > 0
    login = APIClient(REMOTE_ADDR=IP).post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD},
                                           format="json")
    assert login.json()["error_code"] == "LOGIN_LOCKED"
    # Nothing changed: the password, the PIN, no audit record.
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action__in=["user.password_change", "user.pin_set"]).exists()
    # The owner, from elsewhere, is not locked out.
    assert attempt(_client(user, ip="10.9.9.9"), PASSWORD).status_code == 200


def test_a_right_password_resets_the_account_count():
    user = UserFactory()
    client = _client(user)
    for _ in range(4):
        _change_pin(client, "not-the-password")
    assert _change_pin(client, PASSWORD).status_code == 200
    for _ in range(4):
        assert _change_pin(client, "not-the-password").json()["error_code"] == "INVALID_PASSWORD"
    assert _change_password(client, PASSWORD).status_code == 200
