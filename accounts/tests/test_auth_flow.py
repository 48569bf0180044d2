from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.models import User
from accounts.tests.factories import PASSWORD
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def _token_from_last_mail(kind: str) -> str:
    body = mail.outbox[-1].body
    match = re.search(r'"token": "([^"]+)"', body)
    assert match, body
    assert kind in mail.outbox[-1].subject.lower()
    return match.group(1)


def test_register_verify_login_refresh_logout(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "New@Example.com", "password": "a-long-pass-77", "phone": "0803 123 4567"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "new@example.com"
    assert response.json()["phone"] == "+2348031234567"
    assert response.json()["email_verified"] is False

    login = api_client.post("/api/v1/auth/login", {"email": "new@example.com", "password": "a-long-pass-77"}, format="json")
    assert login.status_code == 403
    assert login.json()["error_code"] == "EMAIL_NOT_VERIFIED"

    token = _token_from_last_mail("verify")
    verified = api_client.post("/api/v1/auth/verify-email", {"token": token}, format="json")
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    again = api_client.post("/api/v1/auth/verify-email", {"token": token}, format="json")
    assert again.status_code == 400
    assert again.json()["error_code"] == "INVALID_TOKEN"

    login = api_client.post("/api/v1/auth/login", {"email": "NEW@example.com", "password": "a-long-pass-77"}, format="json")
    assert login.status_code == 200
    tokens = login.json()
    assert {"access", "refresh", "user"} <= set(tokens)

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.com"

    rotated = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    new_refresh = rotated.json()["refresh"]
    assert new_refresh != tokens["refresh"]
    reused = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error_code"] == "TOKEN_INVALID"

    out = api_client.post("/api/v1/auth/logout", {"refresh": new_refresh}, format="json")
    assert out.status_code == 200, out.content
    after = api_client.post("/api/v1/auth/refresh", {"refresh": new_refresh}, format="json")
    assert after.status_code == 401
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["user.register", "user.email_verify"]


def test_forgot_password_answers_the_same_and_reset_token_is_single_use(api_client, user):
    unknown = api_client.post("/api/v1/auth/forgot-password", {"email": "nobody@example.com"}, format="json")
    known = api_client.post("/api/v1/auth/forgot-password", {"email": user.email}, format="json")
    assert unknown.status_code == known.status_code == 200
    assert unknown.json() == known.json()
    assert len(mail.outbox) == 1
    token = _token_from_last_mail("reset")

    done = api_client.post("/api/v1/auth/reset-password", {"token": token, "new_password": "brand-new-pass-1"}, format="json")
    assert done.status_code == 200
    reused = api_client.post("/api/v1/auth/reset-password", {"token": token, "new_password": "another-pass-22"}, format="json")
    assert reused.status_code == 400
    assert reused.json()["error_code"] == "INVALID_TOKEN"
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-1")
    old = api_client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert old.status_code == 401
    assert old.json()["error_code"] == "INVALID_CREDENTIALS"


def test_register_rejects_bad_input_and_writes_nothing(api_client):
    cases = [
        ({"email": "not-an-email", "password": "a-long-pass-77"}, "VALIDATION_ERROR"),
        ({"email": "a@example.com", "password": "123"}, "VALIDATION_ERROR"),
        ({"email": "a@example.com", "password": "a-long-pass-77", "phone": "+14155550100"}, "INVALID_PHONE_NUMBER"),
        ({"email": "a@example.com", "password": 12345678901}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        response = api_client.post("/api/v1/auth/register", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error_code"] == code
    assert User.objects.count() == 0
    assert AuditLog.objects.count() == 0
    assert mail.outbox == []


def test_a_bad_phone_is_a_field_error_and_other_fields_errors_survive(api_client, user):
    response = api_client.post(
        "/api/v1/auth/register", {"email": "not-an-email", "password": "a-long-pass-77", "phone": "12345"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PHONE_NUMBER"
    assert set(body["errors"]) == {"phone", "email"}
    assert "Nigerian mobile number" in body["errors"]["phone"][0] == body["detail"]
    assert User.objects.count() == 1  # only the fixture's user

    from conftest import authenticate

    patched = authenticate(api_client, user).patch("/api/v1/auth/me", {"phone": "+14155550100"}, format="json")
    assert patched.status_code == 400
    assert patched.json()["error_code"] == "INVALID_PHONE_NUMBER"
    assert list(patched.json()["errors"]) == ["phone"]


def test_services_name_the_phone_field_in_the_error():
    from accounts.errors import InvalidPhoneNumber
    from accounts.phones import normalize_ng_mobile

    assert normalize_ng_mobile("0803 123 4567") == "+2348031234567"
    with pytest.raises(InvalidPhoneNumber) as raised:
        normalize_ng_mobile("0803")
    assert list(raised.value.errors) == ["phone_number"]
    with pytest.raises(InvalidPhoneNumber) as raised:
        normalize_ng_mobile(12345, field="recipient")
    assert list(raised.value.errors) == ["recipient"]
