"""The user page, phase 2: wallet-number search, the wallet summary and recent activity, and
the staff role (accounts.services.staff_role_set, audited staff.role_set)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.services import staff_role_set
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.selectors import actions_for_target
from audit.services import Actor
from backoffice.tests.factories import staff_user
from config.errors import ApiError
from wallets.services import hold_place, wallet_freeze, wallet_get_or_create
from wallets.tests.factories import fund_wallet

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:accounts_user_changelist")


def browser(group: str) -> Client:
    client = Client()
    client.force_login(staff_user(group))
    return client


def test_search_by_wallet_number(user):
    other = UserFactory()
    wallet = wallet_get_or_create(user_id=user.pk)
    wallet_get_or_create(user_id=other.pk)

    response = browser("support").get(CHANGELIST, {"q": wallet.number})

    assert [found.pk for found in response.context["cl"].queryset] == [user.pk]
    assert list(browser("support").get(CHANGELIST, {"q": "1999999999"}).context["cl"].queryset) == []


def test_the_user_page_has_the_wallet_summary_and_recent_activity(user):
    fund_wallet(user, 80_000, reference="GTB-1")
    wallet = wallet_get_or_create(user_id=user.pk)
    hold_place(account_id=wallet.pk, amount_kobo=30_000, reference="hold:P-1", memo="MTN 1GB to 0803…")
    wallet_freeze(account_id=wallet.pk, reason="chargeback", actor=Actor.system("test"))

    html = browser("support").get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()

    assert f">{wallet.number}</a>" in html
    assert "balance <b>₦800.00</b> · available <b>₦500.00</b> · held ₦300.00" in html and "FROZEN" in html
    assert "chargeback" in html and "hold:P-1" in html and "GTB-1" in html and "pending" in html


def test_a_user_without_a_wallet_gets_none_opened_by_viewing(user):
    from wallets.models import LedgerAccount

    html = browser("admin").get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    assert "No wallet yet" in html and not LedgerAccount.objects.filter(user=user).exists()


# --- staff role ---------------------------------------------------------------------------------


def test_an_administrator_makes_someone_staff_then_removes_them(user):
    url = reverse("admin:accounts_user_staff_role", args=[user.pk])
    admin_browser = browser("admin")

    assert admin_browser.post(url, {"group": "finance", "reason": ""}).status_code == 200
    user.refresh_from_db()
    assert not user.is_staff and actions_for_target(target=user) == []

    assert admin_browser.post(url, {"group": "finance", "reason": "new finance officer"}).status_code == 302
    user.refresh_from_db()
    assert user.is_staff and list(user.groups.values_list("name", flat=True)) == ["finance"]
    row = AuditLog.objects.get(action="staff.role_set")
    assert row.changes == {"is_staff": [False, True], "groups": [[], ["finance"]]}

    assert admin_browser.post(url, {"group": "", "reason": "left the company"}).status_code == 302
    user.refresh_from_db()
    assert not user.is_staff and not user.groups.exists()
    assert actions_for_target(target=user) == ["staff.role_set", "staff.role_set"]


@pytest.mark.parametrize("group", ["support", "finance"])
def test_only_an_administrator_sets_staff_roles(user, group):
    response = browser(group).post(reverse("admin:accounts_user_staff_role", args=[user.pk]),
                                   {"group": "admin", "reason": "promote me"})
    user.refresh_from_db()
    assert response.status_code == 403 and not user.is_staff


def test_the_service_refuses_self_superusers_unknown_groups_and_no_reason(user):
    admin_member = staff_user("admin")
    actor = Actor.for_user(admin_member)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    cases = [
        (dict(user_id=admin_member.pk, group="support", reason="x"), "PERMISSION_DENIED"),
        (dict(user_id=superuser.pk, group=None, reason="x"), "INVALID_STATE"),
        (dict(user_id=user.pk, group="gods", reason="x"), "VALIDATION_ERROR"),
        (dict(user_id=user.pk, group="support", reason=" "), "REASON_REQUIRED"),
        (dict(user_id=999_999_999, group="support", reason="x"), "NOT_FOUND"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ApiError) as refused:
            staff_role_set(staff=actor, **kwargs)
        assert refused.value.code == code, kwargs
    admin_member.refresh_from_db()
    assert list(admin_member.groups.values_list("name", flat=True)) == ["admin"]
    assert not AuditLog.objects.filter(action="staff.role_set").exists()


def test_the_same_role_again_changes_nothing(user):
    actor = Actor.for_user(staff_user("admin"))
    staff_role_set(staff=actor, user_id=user.pk, group="support", reason="hired")
    staff_role_set(staff=actor, user_id=user.pk, group="support", reason="again")
    staff_role_set(staff=actor, user_id=user.pk, group="finance", reason="moved to finance")
    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == ["finance"]
    assert list(AuditLog.objects.filter(action="staff.role_set").values_list("reason", flat=True)) == [
        "moved to finance", "hired"]  # newest first (the model's ordering)
    assert Group.objects.get(name="support").user_set.count() == 0


# --- KYC decisions ----------------------------------------------------------------------------


def _submission(user):
    import datetime as dt

    from accounts.models import KYCSubmission

    return KYCSubmission.objects.create(
        user=user, id_type="bvn", id_number_masked="*******1234", id_number_hmac="1" * 64,
        date_of_birth=dt.date(1990, 1, 1), requested_tier=2,
    )


def test_the_admin_group_decides_kyc_and_others_cannot(user):
    submission = _submission(user)
    changelist = reverse("admin:accounts_kycsubmission_changelist")
    form = {"action": "approve", "_selected_action": [submission.pk], "apply": "1", "reason": "BVN matches", "tier": "2"}

    for group in ("support", "finance"):
        assert browser(group).post(changelist, form).status_code == 200  # no such action for them: the list again
    submission.refresh_from_db()
    user.refresh_from_db()
    assert (submission.status, user.kyc_tier) == ("pending", 0) and not AuditLog.objects.filter(action="kyc.approve").exists()

    assert browser("admin").post(changelist, form).status_code == 302
    submission.refresh_from_db()
    user.refresh_from_db()
    assert (submission.status, user.kyc_tier) == ("approved", 2)
    assert AuditLog.objects.get(action="kyc.approve").reason == "BVN matches"
