from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditLog
from conftest import authenticate

pytestmark = pytest.mark.django_db


def _login(email: str, password: str, ip: str = "10.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post("/api/v1/auth/login", {"email": email, "password": password}, format="json")


def test_failed_logins_lock_the_account_from_that_ip_only():
    user = UserFactory()
    for _ in range(5):
        assert _login(user.email, "wrong-password", ip="10.0.0.66").json()["error_code"] == "INVALID_CREDENTIALS"
    locked = _login(user.email, PASSWORD, ip="10.0.0.66")
    assert locked.status_code == 403
    assert locked.json()["error_code"] == "LOGIN_LOCKED"
    assert int(locked["Retry-After"]) > 0
    # The owner, elsewhere, still gets in: an attacker cannot lock a victim out from afar.
    assert _login(user.email, PASSWORD, ip="10.0.0.7").status_code == 200


def test_one_ip_spraying_many_accounts_is_locked(settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 6
    users = UserFactory.create_batch(3)
    for user in users:
        for _ in range(2):
            _login(user.email, "wrong-password", ip="10.9.9.9")
    assert _login(users[0].email, PASSWORD, ip="10.9.9.9").json()["error_code"] == "LOGIN_LOCKED"
    assert _login(users[0].email, PASSWORD, ip="10.9.9.10").status_code == 200


def test_unknown_email_and_wrong_password_answer_alike():
    user = UserFactory()
    unknown = _login("nobody@example.com", "whatever-123")
    wrong = _login(user.email, "whatever-123")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_suspended_user_reads_but_cannot_write(user_client, user):
    User.objects.filter(pk=user.pk).update(suspended_at=timezone.now())
    me = user_client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["suspended"] is True
    patched = user_client.patch("/api/v1/auth/me", {"first_name": "X"}, format="json")
    assert patched.status_code == 403
    assert patched.json()["error_code"] == "ACCOUNT_SUSPENDED"
    assert user_client.post("/api/v1/auth/pin", {"pin": "9999", "password": PASSWORD}, format="json").json()[
        "error_code"
    ] == "ACCOUNT_SUSPENDED"
    assert User.objects.get(pk=user.pk).first_name == "Ade"


def test_profile_update_normalises_phone_and_is_audited(user_client, user):
    response = user_client.patch("/api/v1/auth/me", {"phone": "08051234567", "first_name": "Ngozi"}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "+2348051234567"
    log = AuditLog.objects.get(action="user.profile_update")
    assert log.changes == {"phone": ["", "+2348051234567"], "first_name": ["Ade", "Ngozi"]}
    bad = user_client.patch("/api/v1/auth/me", {"phone": "12345"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PHONE_NUMBER"
    taken = UserFactory(phone="+2348071234567")
    dup = user_client.patch("/api/v1/auth/me", {"phone": "0807 123 4567"}, format="json")
    assert dup.status_code == 400
    assert taken.phone == "+2348071234567"
    assert User.objects.get(pk=user.pk).phone == "+2348051234567"


def test_change_password_revokes_refresh_tokens(api_client, user):
    tokens = _login(user.email, PASSWORD).json()
    client = authenticate(api_client, user)
    wrong = client.post(
        "/api/v1/auth/change-password", {"current_password": "nope-nope", "new_password": "fresh-pass-321"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error_code"] == "INVALID_PASSWORD"
    ok = client.post(
        "/api/v1/auth/change-password", {"current_password": PASSWORD, "new_password": "fresh-pass-321"}, format="json"
    )
    assert ok.status_code == 200
    refreshed = APIClient().post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    assert _login(user.email, "fresh-pass-321").status_code == 200


def test_expired_access_token_is_401(api_client, user, settings):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "TOKEN_INVALID"


def test_verification_can_be_resent_without_revealing_accounts(api_client):
    from django.core import mail

    unverified = UserFactory(email_verified_at=None)
    a = api_client.post("/api/v1/auth/resend-verification", {"email": unverified.email}, format="json")
    b = api_client.post("/api/v1/auth/resend-verification", {"email": "ghost@example.com"}, format="json")
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert [m.to for m in mail.outbox] == [[unverified.email]]
