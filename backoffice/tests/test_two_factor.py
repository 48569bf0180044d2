"""Staff login: TOTP second factor, enrolment, 2FA required for admins, session age cap."""

from __future__ import annotations

import importlib
import io
import time

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import clear_url_caches, resolve, reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.tests.factories import PASSWORD, UserFactory
from audit.selectors import actions_for_target, audit_for_target
from backoffice.otp import SESSION_LOGIN_AT
from backoffice.tests.factories import staff_user

pytestmark = pytest.mark.django_db
INDEX, LOGIN = "/admin/", "/admin/login/"


def _code(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _login(client, user, code: str = ""):
    return client.post(LOGIN, {"username": user.email, "password": PASSWORD, "otp_token": code, "next": INDEX})


def _device(user, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=confirmed)


def test_staff_without_a_device_logs_in_with_the_password_and_the_login_is_audited(client):
    staff = staff_user("support")
    response = _login(client, staff)
    assert response.status_code == 302 and response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200
    assert client.session[SESSION_LOGIN_AT] == pytest.approx(time.time(), abs=60)
    assert actions_for_target(target=staff) == ["staff.login"]
    assert audit_for_target(target=staff).get().changes == {"second_factor": [None, False], "channel": [None, "console"]}


def test_a_customer_cannot_log_in_to_the_console(client):
    customer = UserFactory()
    response = _login(client, customer)
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302
    assert actions_for_target(target=customer) == []


def test_with_a_device_the_code_is_required_and_checked(client):
    staff = staff_user("finance")
    device = _device(staff)
    missing = _login(client, staff)
    assert missing.status_code == 200 and b"Enter the code from your authenticator app" in missing.content
    wrong = _login(client, staff, _wrong(_code(device)))
    assert wrong.status_code == 200 and b"wrong or has expired" in wrong.content
    assert client.get(INDEX).status_code == 302  # still not in
    assert actions_for_target(target=staff) == []

    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # django-otp throttles after a failure
    device.save()
    ok = _login(client, staff, _code(device))
    assert ok.status_code == 302
    assert client.get(INDEX).status_code == 200
    assert audit_for_target(target=staff).get().changes == {"second_factor": [None, True], "channel": [None, "console"]}


def test_a_session_that_skipped_the_code_is_not_let_in(client):
    staff = staff_user("admin")
    _device(staff)
    client.force_login(staff)  # password-level session, no OTP verification
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@override_settings(STAFF_2FA_REQUIRED=True)
def test_when_required_an_admin_without_a_device_is_refused_with_how_to_enrol(client):
    admin_member = staff_user("admin")
    response = _login(client, admin_member)
    assert response.status_code == 200
    assert b"staff_otp_enrol" in response.content
    assert client.get(INDEX).status_code == 302
    client.force_login(admin_member)  # even a session made another way is refused
    assert client.get(INDEX).status_code == 302


@override_settings(STAFF_2FA_REQUIRED=True)
def test_when_required_a_superuser_without_a_device_is_refused_too(client):
    boss = staff_user(None, is_superuser=True)
    assert _login(client, boss).status_code == 200
    assert client.get(INDEX).status_code == 302


@override_settings(STAFF_2FA_REQUIRED=True)
def test_when_required_support_without_a_device_still_logs_in(client):
    staff = staff_user("support")
    assert _login(client, staff).status_code == 302
    assert client.get(INDEX).status_code == 200


@override_settings(STAFF_2FA_REQUIRED=True)
def test_when_required_an_admin_with_a_device_logs_in_with_the_code(client):
    admin_member = staff_user("admin")
    device = _device(admin_member)
    assert _login(client, admin_member, _code(device)).status_code == 302
    assert client.get(INDEX).status_code == 200


@override_settings(STAFF_SESSION_AGE_MINUTES=30)
def test_a_staff_session_ends_after_its_age_however_busy(client):
    staff = staff_user("support")
    assert _login(client, staff).status_code == 302
    assert client.get(INDEX).status_code == 200
    session = client.session
    session[SESSION_LOGIN_AT] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session  # logged out, not just refused
    assert _login(client, staff).status_code == 302  # a fresh login starts a new clock
    assert client.get(INDEX).status_code == 200


def test_repeated_wrong_passwords_lock_the_console_login(client):
    staff = staff_user("support")
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP):
        client.post(LOGIN, {"username": staff.email, "password": "wrong-password-1", "next": INDEX})
    locked = _login(client, staff)
    assert locked.status_code == 200 and b"Too many failed logins" in locked.content
    assert client.get(INDEX).status_code == 302


def test_a_suspended_staff_member_is_out_of_the_console(client):
    staff = staff_user("support")
    client.force_login(staff)
    assert client.get(INDEX).status_code == 200
    type(staff).objects.filter(pk=staff.pk).update(suspended_at="2026-01-01T00:00:00Z")
    assert client.get(INDEX).status_code == 302


def test_self_enrolment_shows_a_qr_code_and_confirms_with_a_code(client):
    staff = staff_user("support")
    client.force_login(staff)
    url = reverse("admin:otp_enrol")
    page = client.get(url)
    assert page.status_code == 200
    assert b"<svg" in page.content and b"otpauth://totp/" in page.content
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert client.get(url).status_code == 200
    assert TOTPDevice.objects.filter(user=staff).count() == 1  # reloading reuses the pending device

    wrong = client.post(url, {"token": _wrong(_code(device))})
    assert wrong.status_code == 200 and b"does not match" in wrong.content
    device.refresh_from_db()
    assert device.confirmed is False
    assert actions_for_target(target=staff) == []

    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    done = client.post(url, {"token": _code(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get(INDEX).status_code == 200  # this session was verified by the enrolment code
    assert actions_for_target(target=staff) == ["staff.otp_enrol"]
    assert b"is <strong>on</strong>" in client.get(url).content


def test_the_enrol_command_prints_the_otpauth_url_and_qr_svg():
    staff = staff_user("admin", email="ada@example.com")
    out = io.StringIO()
    call_command("staff_otp_enrol", "ada@example.com", "--svg", "-", stdout=out)
    text = out.getvalue()
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed is True
    assert device.config_url in text and "otpauth://totp/" in text and "issuer=" in text
    assert "<svg" in text
    with pytest.raises(CommandError, match="--reset"):
        call_command("staff_otp_enrol", "ada@example.com", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--reason"):
        call_command("staff_otp_enrol", "ada@example.com", "--reset", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=staff).get() == device  # refused: nothing removed
    call_command("staff_otp_enrol", "ada@example.com", "--reset", "--reason", "lost phone", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=staff).exclude(pk=device.pk).count() == 1
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert actions_for_target(target=staff) == ["staff.otp_enrol", "staff.otp_reset", "staff.otp_enrol"]
    assert audit_for_target(target=staff).get(action="staff.otp_reset").reason == "lost phone"


def test_the_enrol_command_refuses_a_non_staff_user():
    UserFactory(email="customer@example.com")
    with pytest.raises(CommandError, match="No staff user"):
        call_command("staff_otp_enrol", "customer@example.com", stdout=io.StringIO())
    assert TOTPDevice.objects.count() == 0


def test_the_admin_url_comes_from_settings():
    import config.urls

    assert reverse("admin:index") == "/" + settings.ADMIN_URL
    try:
        with override_settings(ADMIN_URL="staff-console-7f3a/"):
            importlib.reload(config.urls)
            clear_url_caches()
            assert reverse("admin:index") == "/staff-console-7f3a/"
            assert resolve("/staff-console-7f3a/login/").url_name == "login"
    finally:
        importlib.reload(config.urls)
        clear_url_caches()
    assert reverse("admin:index") == "/admin/"
