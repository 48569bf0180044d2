"""KYC review: staff reject a submission in the admin (reason required, audited, tier
unchanged, the user e-mailed the reason), only with the KYC permission; and the status
endpoint pages through a long submission history."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts import kyc
from accounts.models import KYCSubmission
from audit.models import AuditLog
from audit.services import Actor
from backoffice.tests.factories import staff_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/kycsubmission/"
BODY = {"id_type": "bvn", "id_number": "22212345678", "date_of_birth": "1990-04-01"}


def submit(client) -> int:
    response = client.post("/api/v1/kyc/submit", BODY, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def admin_browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def reject(browser: Client, submission_id: int, reason: str | None):  # type: ignore[no-untyped-def]
    data = {"action": "reject", "_selected_action": [submission_id]}
    if reason is not None:
        data.update(apply="1", reason=reason)
    return browser.post(CHANGELIST, data)


def test_admin_reject_asks_for_a_reason_then_rejects_audits_and_emails(user_client, user):
    submission_id = submit(user_client)
    staff = staff_user("admin")
    browser = admin_browser(staff)
    mail.outbox.clear()

    form = reject(browser, submission_id, None)
    assert form.status_code == 200 and b"Reason" in form.content
    blank = reject(browser, submission_id, "   ")
    assert blank.status_code == 200 and b"required" in blank.content  # the form again, nothing done
    submission = KYCSubmission.objects.get()
    assert submission.status == "pending" and not AuditLog.objects.filter(action="kyc.reject").exists()
    assert mail.outbox == []

    done = reject(browser, submission_id, "The name on the BVN does not match the account")
    assert done.status_code == 302
    submission.refresh_from_db()
    assert submission.status == "rejected" and submission.decided_by_id == staff.pk
    assert submission.decision_reason == "The name on the BVN does not match the account"
    assert submission.granted_tier is None
    user.refresh_from_db()
    assert user.kyc_tier == 0
    audit = AuditLog.objects.get(action="kyc.reject")
    assert audit.actor_user_id == staff.pk and audit.reason == submission.decision_reason
    assert audit.target_id == str(submission_id)
    [email] = mail.outbox
    assert email.to == [user.email] and "does not match the account" in email.body
    assert "22212345678" not in email.body  # the BVN never leaves in clear

    again = reject(browser, submission_id, "twice")
    assert again.status_code == 302
    assert AuditLog.objects.filter(action="kyc.reject").count() == 1  # already decided: refused, not repeated


@pytest.mark.parametrize("group", ["support", "finance"])
def test_staff_without_the_kyc_permission_cannot_reject(user_client, group):
    submission_id = submit(user_client)
    reject(admin_browser(staff_user(group)), submission_id, "no")
    assert KYCSubmission.objects.get().status == "pending"
    assert not AuditLog.objects.filter(action="kyc.reject").exists()


def test_status_pages_through_the_submissions(user_client, user):
    staff = Actor.for_user(staff_user("admin"))
    previous = submit(user_client)
    for _ in range(2):  # three submissions: two rejected, each resubmitted
        kyc.kyc_reject(staff=staff, submission_id=previous, reason="blurry")
        response = user_client.post(f"/api/v1/kyc/resubmit/{previous}", BODY, format="json")
        assert response.status_code == 201, response.content
        previous = response.json()["id"]

    first = user_client.get("/api/v1/kyc/status", {"page_size": 2}).json()
    assert first["kyc_tier"] == 0 and first["limits"]["single"] > 0
    page = first["submissions"]
    assert page["count"] == 3 and len(page["results"]) == 2 and page["previous"] is None
    assert page["results"][0]["id"] == previous  # newest first
    second = user_client.get(page["next"]).json()
    assert second["kyc_tier"] == 0 and second["submissions"]["next"] is None
    assert [s["status"] for s in second["submissions"]["results"]] == ["rejected"]
    ids = [s["id"] for s in page["results"] + second["submissions"]["results"]]
    assert sorted(ids) == sorted(KYCSubmission.objects.filter(user=user).values_list("pk", flat=True))
    beyond = user_client.get("/api/v1/kyc/status", {"page": 9})
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "NOT_FOUND"
