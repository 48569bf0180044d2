"""The two-factor device page: read-only, never the secret, and removing a staff member's
devices only with a reason, through the audited service the shell command uses too."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.services import tokens_for
from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from audit.services import Actor
from backoffice import services
from backoffice.tests.factories import staff_user
from config.errors import ApiError

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/otp_totp/totpdevice/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_the_key_and_qr_code_are_never_shown_to_an_administrator():
    assert settings.OTP_ADMIN_HIDE_SENSITIVE_DATA is True
    device = _device(staff_user("finance"))
    client = _client(staff_user("admin"))
    pages = [client.get(CHANGELIST), client.get(f"{CHANGELIST}{device.pk}/change/")]
    assert [page.status_code for page in pages] == [200, 200]
    for page in pages:
        text = page.content.decode()
        assert device.key not in text and device.key.upper() not in text
        assert "otpauth://" not in text and "qrcode" not in text.lower()
    for name in ("otp_totp_totpdevice_config", "otp_totp_totpdevice_qrcode"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:{name}", kwargs={"pk": device.pk})


def test_nobody_adds_changes_or_deletes_a_device_from_the_console():
    device = _device(staff_user("finance"))
    client = _client(staff_user("admin"))
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{device.pk}/change/", {"name": "x", "key": "00" * 20}).status_code == 403
    assert client.post(f"{CHANGELIST}{device.pk}/delete/", {"post": "yes"}).status_code == 403
    device.refresh_from_db()
    assert device.name == "phone"


def test_removing_devices_asks_for_a_reason_and_is_audited():
    owner, boss = staff_user("finance"), staff_user("admin")
    first, second = _device(owner), _device(owner)
    tokens_for(owner, otp_verified=True)  # an API session of theirs
    client = _client(boss)
    action = {"action": "reset_devices", "_selected_action": [first.pk, second.pk]}

    page = client.post(CHANGELIST, action)
    assert page.status_code == 200 and b"reason" in page.content
    blank = client.post(CHANGELIST, {**action, "apply": "1", "reason": "  "})
    assert blank.status_code == 200
    assert TOTPDevice.objects.filter(user=owner).count() == 2
    assert actions_for_target(target=owner) == []

    done = client.post(CHANGELIST, {**action, "apply": "1", "reason": "lost phone"})
    assert done.status_code == 302
    assert TOTPDevice.objects.filter(user=owner).count() == 0
    row = audit_for_target(target=owner).get()
    assert (row.action, row.reason, row.actor_user_id) == ("staff.otp_reset", "lost phone", boss.pk)
    assert row.changes == {"devices": [sorted([first.pk, second.pk]), []]}
    # The API session they had is over too.
    assert BlacklistedToken.objects.filter(token__user=owner).count() == OutstandingToken.objects.filter(user=owner).count() == 1


def test_the_service_refuses_without_a_reason_and_a_superuser_from_the_console():
    owner = staff_user("support")
    _device(owner)
    boss = Actor.for_user(staff_user("admin"))
    with pytest.raises(ApiError) as refused:
        services.staff_otp_reset(actor=boss, user_id=owner.pk, reason="")
    assert refused.value.code == "REASON_REQUIRED"
    root = staff_user(None, is_superuser=True)
    _device(root)
    with pytest.raises(ApiError) as refused:
        services.staff_otp_reset(actor=boss, user_id=root.pk, reason="lost phone")
    assert refused.value.code == "INVALID_STATE"
    assert TOTPDevice.objects.count() == 2 and AuditLog.objects.filter(action="staff.otp_reset").count() == 0
    assert services.staff_otp_reset(actor=Actor.system("manage.py"), user_id=root.pk, reason="lost phone") == 1
    assert services.staff_otp_reset(actor=Actor.system("manage.py"), user_id=root.pk, reason="again") == 0  # nothing left
    assert AuditLog.objects.filter(action="staff.otp_reset").count() == 1


def test_support_and_finance_cannot_remove_devices():
    owner = staff_user("support")
    device = _device(owner)
    for group in ("support", "finance"):
        response = _client(staff_user(group)).post(
            CHANGELIST, {"action": "reset_devices", "_selected_action": [device.pk], "apply": "1", "reason": "x"})
        assert response.status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert actions_for_target(target=owner) == []
