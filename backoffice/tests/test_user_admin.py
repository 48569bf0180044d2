"""The user page: search by e-mail and phone, suspend / re-activate / KYC tier with a reason
through accounts.services, nothing secret shown, nothing edited directly."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from backoffice.tests.factories import staff_user
from config.models import Alert

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:accounts_user_changelist")


@pytest.fixture
def support_client(client):
    client.force_login(staff_user("support"))
    return client


@pytest.fixture
def customers():
    return (
        UserFactory(email="ngozi@example.com", phone="+2348031234567", first_name="Ngozi"),
        UserFactory(email="tunde@example.com", phone="+2348051112222", first_name="Tunde"),
    )


def _found(client, term: str) -> list[str]:
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return [user.email for user in response.context["cl"].queryset]


@pytest.mark.parametrize("term", ["+2348031234567", "08031234567", "0803 123 4567", "2348031234567"])
def test_search_finds_a_phone_in_any_format(support_client, customers, term):
    assert _found(support_client, term) == ["ngozi@example.com"]


def test_search_by_email_and_name(support_client, customers):
    assert _found(support_client, "tunde@exam") == ["tunde@example.com"]
    assert _found(support_client, "Ngozi") == ["ngozi@example.com"]


def test_the_user_page_never_shows_hashes_or_secrets(support_client, customers):
    ngozi = customers[0]
    ngozi.google_sub = "google-subject-1234567890"
    ngozi.save()
    page = support_client.get(reverse("admin:accounts_user_change", args=[ngozi.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert ngozi.pin_hash and ngozi.pin_hash not in html
    assert ngozi.password not in html and "argon2" not in html
    assert "google-subject-1234567890" not in html
    assert 'name="_save"' not in html  # read-only: changes go through the actions
    assert "PIN set" in html and "Suspend" in html


def test_suspend_with_a_reason_from_the_user_page(support_client, customers):
    ngozi = customers[0]
    url = reverse("admin:accounts_user_suspend", args=[ngozi.pk])
    refused = support_client.post(url, {"reason": "   "})
    assert refused.status_code == 200 and b"This field is required" in refused.content
    ngozi.refresh_from_db()
    assert ngozi.suspended_at is None and actions_for_target(target=ngozi) == []

    done = support_client.post(url, {"reason": "reported stolen SIM"})
    assert done.status_code == 302
    ngozi.refresh_from_db()
    assert ngozi.suspended_at is not None and ngozi.suspension_reason == "reported stolen SIM"
    row = audit_for_target(target=ngozi).get()
    assert (row.action, row.reason, row.actor_kind) == ("user.suspend", "reported stolen SIM", "staff")

    assert support_client.post(reverse("admin:accounts_user_activate", args=[ngozi.pk]), {"reason": "SIM recovered"}).status_code == 302
    ngozi.refresh_from_db()
    assert ngozi.suspended_at is None
    assert actions_for_target(target=ngozi) == ["user.suspend", "user.activate"]


def test_kyc_tier_change_needs_the_permission_and_a_reason(client, support_client, customers):
    ngozi = customers[0]
    url = reverse("admin:accounts_user_kyc_tier", args=[ngozi.pk])
    assert support_client.post(url, {"tier": 2, "reason": "BVN checked"}).status_code == 403
    client.force_login(staff_user("admin"))
    assert client.post(url, {"tier": 2, "reason": ""}).status_code == 200
    assert client.post(url, {"tier": 7, "reason": "typo"}).status_code == 200
    ngozi.refresh_from_db()
    assert ngozi.kyc_tier == 0 and actions_for_target(target=ngozi) == []
    assert client.post(url, {"tier": 2, "reason": "BVN checked"}).status_code == 302
    ngozi.refresh_from_db()
    assert ngozi.kyc_tier == 2
    assert audit_for_target(target=ngozi).get().changes == {"kyc_tier": [0, 2]}


def test_bulk_suspend_asks_for_a_reason_then_suspends_each(support_client, customers):
    ids = [str(user.pk) for user in customers]
    ask = support_client.post(CHANGELIST, {"action": "suspend_users", ACTION_CHECKBOX_NAME: ids})
    assert ask.status_code == 200 and b'name="reason"' in ask.content
    assert AuditLog.objects.count() == 0
    blank = support_client.post(CHANGELIST, {"action": "suspend_users", ACTION_CHECKBOX_NAME: ids, "apply": "1", "reason": ""})
    assert blank.status_code == 200 and AuditLog.objects.count() == 0
    done = support_client.post(CHANGELIST, {"action": "suspend_users", ACTION_CHECKBOX_NAME: ids, "apply": "1", "reason": "fraud ring"})
    assert done.status_code == 302
    for user in customers:
        user.refresh_from_db()
        assert user.suspended_at is not None
        assert actions_for_target(target=user) == ["user.suspend"]


def test_support_cannot_suspend_a_colleague_from_the_console(support_client):
    colleague = staff_user("finance")
    page = support_client.post(reverse("admin:accounts_user_suspend", args=[colleague.pk]), {"reason": "prank"})
    assert page.status_code == 200 and b"Only an administrator" in page.content
    bulk = support_client.post(
        CHANGELIST, {"action": "suspend_users", ACTION_CHECKBOX_NAME: [colleague.pk], "apply": "1", "reason": "prank"}
    )
    assert bulk.status_code == 302
    colleague.refresh_from_db()
    assert colleague.suspended_at is None and AuditLog.objects.count() == 0


def test_finance_cannot_suspend(client, customers):
    client.force_login(staff_user("finance"))
    ngozi = customers[0]
    assert client.post(reverse("admin:accounts_user_suspend", args=[ngozi.pk]), {"reason": "x"}).status_code == 403
    client.post(CHANGELIST, {"action": "suspend_users", ACTION_CHECKBOX_NAME: [ngozi.pk], "apply": "1", "reason": "x"})
    ngozi.refresh_from_db()
    assert ngozi.suspended_at is None and AuditLog.objects.count() == 0


def test_alerts_are_resolved_with_a_reason_and_audited(client):
    alert = Alert.objects.create(kind="low_float", dedupe_key="a1", severity="critical", message="float low")
    client.force_login(staff_user("admin"))
    url = reverse("admin:platform_alert_changelist")
    assert b"1 open alert" in client.get(url).content
    client.post(url, {"action": "resolve_alerts", ACTION_CHECKBOX_NAME: [alert.pk], "apply": "1", "reason": ""})
    alert.refresh_from_db()
    assert alert.resolved_at is None and AuditLog.objects.count() == 0
    client.post(url, {"action": "resolve_alerts", ACTION_CHECKBOX_NAME: [alert.pk], "apply": "1", "reason": "topped up"})
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert actions_for_target(target=alert) == ["alert.resolve"]
    assert b"open alert" not in client.get(reverse("admin:index")).content
