"""The staff API's door follows the console's rules: an account with two-factor gets tokens
only against a valid TOTP code (POST /api/v1/auth/login `otp`), the staff API refuses a staff
token without that proof, and a staff session's tokens stop STAFF_SESSION_AGE_MINUTES after
the login however often they are refreshed."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
import rest_framework_simplejwt.tokens as simplejwt_tokens
from django.conf import settings
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from backoffice.tests.factories import staff_user
from conftest import authenticate

pytestmark = pytest.mark.django_db
LOGIN, REFRESH = "/api/v1/auth/login", "/api/v1/auth/refresh"


def _code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _login(user: User, **extra: str):
    return APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD, **extra}, format="json")


def _suspend(access: str, customer: User):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.post(f"/api/v1/admin/users/{customer.pk}/suspend", {"reason": "2fa test"}, format="json")


def _nothing_suspended(customer: User) -> bool:
    customer.refresh_from_db()
    return customer.suspended_at is None and actions_for_target(target=customer) == []


@override_settings(STAFF_2FA_REQUIRED=True)
def test_an_admin_with_a_device_gets_no_tokens_for_the_password_alone():
    boss = staff_user("admin")
    TOTPDevice.objects.create(user=boss, name="phone", confirmed=True)
    response = _login(boss)
    assert response.status_code == 403
    assert response.json()["error_code"] == "OTP_REQUIRED"
    assert "access" not in response.json() and "refresh" not in response.json()
    assert OutstandingToken.objects.filter(user=boss).count() == 0
    assert actions_for_target(target=boss) == []


def test_a_wrong_code_is_refused_and_counts_towards_the_login_lockout():
    staff = staff_user("finance")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP):
        wrong = _login(staff, otp=_wrong(_code(device)))
        assert wrong.status_code == 401 and wrong.json()["error_code"] == "OTP_INVALID"
    locked = _login(staff, otp=_code(device))
    assert locked.status_code == 403 and locked.json()["error_code"] == "LOGIN_LOCKED"
    assert OutstandingToken.objects.filter(user=staff).count() == 0
    assert actions_for_target(target=staff) == []


@override_settings(STAFF_2FA_REQUIRED=True)
def test_with_the_code_the_tokens_carry_the_proof_and_open_the_staff_api():
    boss, customer = staff_user("admin"), UserFactory()
    device = TOTPDevice.objects.create(user=boss, name="phone", confirmed=True)
    response = _login(boss, otp=_code(device))
    assert response.status_code == 200
    access = AccessToken(response.json()["access"])
    assert access["otp"] is True
    assert access["staff_until"] == RefreshToken(response.json()["refresh"])["staff_until"]
    assert audit_for_target(target=boss).get().changes == {"second_factor": [None, True], "channel": [None, "api"]}

    assert _suspend(response.json()["access"], customer).status_code == 200
    customer.refresh_from_db()
    assert customer.suspended_at is not None
    assert actions_for_target(target=customer) == ["user.suspend"]


@override_settings(STAFF_2FA_REQUIRED=True)
def test_an_admin_without_a_device_is_told_how_to_enrol():
    boss = staff_user("admin")
    response = _login(boss, otp="123456")
    assert response.status_code == 403 and response.json()["error_code"] == "OTP_REQUIRED"
    assert "staff_otp_enrol" in response.json()["detail"]
    assert OutstandingToken.objects.filter(user=boss).count() == 0


@override_settings(STAFF_2FA_REQUIRED=True)
def test_support_without_a_device_still_logs_in_with_the_password():
    staff, customer = staff_user("support"), UserFactory()
    response = _login(staff)
    assert response.status_code == 200
    assert AccessToken(response.json()["access"])["otp"] is False
    assert audit_for_target(target=staff).get().changes == {"second_factor": [None, False], "channel": [None, "api"]}
    assert _suspend(response.json()["access"], customer).status_code == 200


@override_settings(STAFF_2FA_REQUIRED=True)
def test_a_staff_token_without_the_code_is_refused_by_the_staff_api():
    """E.g. issued before the device was enrolled: it must not keep its owner past 2FA."""
    boss, customer = staff_user("admin"), UserFactory()
    TOTPDevice.objects.create(user=boss, name="phone", confirmed=True)
    client = authenticate(APIClient(), boss, otp_verified=False)
    refused = client.post(f"/api/v1/admin/users/{customer.pk}/suspend", {"reason": "x"}, format="json")
    assert refused.status_code == 403 and refused.json()["error_code"] == "OTP_REQUIRED"
    assert client.get("/api/v1/admin/analytics").json()["error_code"] == "OTP_REQUIRED"
    assert _nothing_suspended(customer)
    # The customer endpoints still answer: the code guards staff powers, not the account.
    assert client.get("/api/v1/auth/me").status_code == 200


def test_a_token_issued_before_the_user_became_staff_is_refused_by_the_staff_api():
    promoted, customer = UserFactory(), UserFactory()
    client = authenticate(APIClient(), promoted)
    User.objects.filter(pk=promoted.pk).update(is_staff=True)
    promoted.groups.add(*staff_user("admin").groups.all())
    refused = client.post(f"/api/v1/admin/users/{customer.pk}/suspend", {"reason": "x"}, format="json")
    assert refused.status_code == 401 and refused.json()["error_code"] == "TOKEN_INVALID"
    assert _nothing_suspended(customer)


@pytest.fixture
def clock(monkeypatch):
    """simplejwt's clock (tokens read it when made and when their `exp` is checked), movable.
    PyJWT checks `exp` and `iat` against the real clock, so the tests log in in the past and
    then return to the present: no token is ever issued in the future."""
    now = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(simplejwt_tokens, "aware_utcnow", lambda: now[0])
    return now


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


@override_settings(STAFF_SESSION_AGE_MINUTES=120)
def test_refreshing_keeps_the_proof_but_never_outlives_the_staff_session(clock):
    staff = staff_user("finance")
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    real_now = clock[0]
    start = clock[0] = real_now - dt.timedelta(minutes=110)
    first = _login(staff, otp=_code(device)).json()
    end = int(start.timestamp()) + 120 * 60  # ten minutes from now
    assert _claims(first["refresh"])["exp"] == end  # not JWT_REFRESH_DAYS
    assert OutstandingToken.objects.get(jti=_claims(first["refresh"])["jti"]).expires_at.timestamp() == end

    clock[0] = real_now
    rotated = _refresh(first["refresh"])
    assert rotated.status_code == 200
    new_refresh, new_access = _claims(rotated.json()["refresh"]), _claims(rotated.json()["access"])
    assert (new_refresh["exp"], new_access["exp"]) == (end, end)  # not 7 days / 15 minutes from now
    assert new_refresh["otp"] is True and new_access["otp"] is True
    assert new_refresh["staff_until"] == end
    assert _refresh(first["refresh"]).status_code == 401  # rotated: the old one is blacklisted


@override_settings(STAFF_SESSION_AGE_MINUTES=120)
def test_a_staff_session_past_its_age_is_over_while_a_customer_of_the_same_age_refreshes(clock):
    staff, customer = staff_user("finance"), UserFactory()
    real_now = clock[0]
    clock[0] = real_now - dt.timedelta(minutes=121)
    staff_pair, customer_pair = _login(staff).json(), _login(customer).json()
    clock[0] = real_now

    expired = _refresh(staff_pair["refresh"])
    assert expired.status_code == 401 and expired.json()["error_code"] == "TOKEN_INVALID"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_pair['access']}")
    assert client.get("/api/v1/admin/analytics").status_code == 401
    assert _refresh(customer_pair["refresh"]).status_code == 200


def test_a_session_within_its_age_refreshes(clock):
    """The other side of the cap: before the end a refresh works and gives a full access token."""
    staff = staff_user("support")
    first = _login(staff).json()
    rotated = _refresh(first["refresh"])
    assert rotated.status_code == 200
    access = _claims(rotated.json()["access"])
    assert access["exp"] - access["iat"] == settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()


def test_a_customer_login_is_unchanged():
    customer = UserFactory()
    response = _login(customer)
    assert response.status_code == 200
    refresh = RefreshToken(response.json()["refresh"])
    assert "staff_until" not in refresh.payload and "otp" not in refresh.payload
    assert refresh["exp"] - refresh["iat"] == settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()
    assert AuditLog.objects.filter(action="staff.login").count() == 0


def test_the_two_factor_rule_names_the_admin_group_of_the_roles_table():
    from accounts.staff_otp import ADMIN_GROUP
    from backoffice.roles import ADMIN

    assert ADMIN_GROUP == ADMIN
