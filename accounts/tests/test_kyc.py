"""KYC: submit (JSON or with a document), status, staff approve/reject in admin, resubmit;
limits rise after approval; BVN/NIN never stored, returned or logged in clear."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from accounts import kyc
from accounts.models import KYCSubmission
from accounts.tests.factories import PIN, UserFactory
from accounts.tests.reseller_fixtures import issue_key, rows_containing
from audit.models import AuditLog
from audit.services import Actor
from conftest import authenticate

pytestmark = pytest.mark.django_db

BVN = "22212345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"x" * 200


def submit(client, **overrides):
    body = {"id_type": "bvn", "id_number": BVN, "date_of_birth": "1990-04-01", **overrides}
    fmt = "multipart" if "document" in body else "json"
    return client.post("/api/v1/kyc/submit", body, format=fmt)


def stored_files(user) -> list[str]:
    try:
        return default_storage.listdir(f"kyc/{user.pk}")[1]
    except FileNotFoundError:
        return []


def assert_nothing_stored(user):
    assert KYCSubmission.objects.filter(user=user).count() == 0
    assert stored_files(user) == []
    assert not AuditLog.objects.filter(action="kyc.submit").exists()


def test_submit_stores_only_a_mask_and_a_keyed_hmac(user_client, user, caplog):
    caplog.set_level(logging.DEBUG)
    response = submit(user_client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["requested_tier"] == 1 and body["id_number_masked"] == "*******5678"
    assert BVN not in response.content.decode()
    submission = KYCSubmission.objects.get()
    assert submission.id_number_hmac == kyc.identity_digest(id_type="bvn", id_number=BVN)
    assert rows_containing(BVN) == []
    assert BVN not in caplog.text
    assert AuditLog.objects.filter(action="kyc.submit", target_id=str(submission.pk)).count() == 1
    status = user_client.get("/api/v1/kyc/status").json()
    assert status["kyc_tier"] == 0
    assert status["submissions"]["count"] == 1 and status["submissions"]["results"][0]["id"] == submission.pk
    assert status["limits"]["single"] > 0


def test_the_hmac_is_keyed_not_a_plain_hash(settings):
    import hashlib

    digest = kyc.identity_digest(id_type="bvn", id_number=BVN)
    assert digest != hashlib.sha256(BVN.encode()).hexdigest()
    assert digest != hashlib.sha256(f"bvn:{BVN}".encode()).hexdigest()
    settings.KYC_IDENTITY_HMAC_KEY = "another-key"
    assert kyc.identity_digest(id_type="bvn", id_number=BVN) != digest


def test_the_hmac_key_is_its_own_so_rotating_secret_key_keeps_the_digests(settings):
    assert settings.KYC_IDENTITY_HMAC_KEY  # as production requires (config/startup.py)
    digest = kyc.identity_digest(id_type="bvn", id_number=BVN)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-key-" + "r" * 40
    assert kyc.identity_digest(id_type="bvn", id_number=BVN) == digest


def test_submit_with_a_document_saves_it_to_storage(user_client, user):
    document = SimpleUploadedFile("passport.png", PNG, content_type="image/png")
    response = submit(user_client, id_type="nin", document=document)
    assert response.status_code == 201, response.content
    submission = KYCSubmission.objects.get()
    assert submission.requested_tier == 2 and submission.document_content_type == "image/png"
    assert submission.document.name.startswith(f"kyc/{user.pk}/") and submission.document.name.endswith(".png")
    assert "passport" not in submission.document.name
    with default_storage.open(submission.document.name, "rb") as handle:
        assert handle.read() == PNG


@pytest.mark.parametrize("number", ["2221234567", "222123456789", "2221234567a", "", "   ", 22212345678])
def test_malformed_bvn_is_400_invalid_id_number_and_nothing_is_stored(user_client, user, number):
    response = submit(user_client, id_number=number)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_ID_NUMBER"
    assert str(number) not in str(response.json().get("errors")) or not str(number).strip()
    assert_nothing_stored(user)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("id.png", b"MZ\x90\x00 not an image at all", "image/png"),  # lies about its type
        ("id.txt", b"hello", "text/plain"),
        ("id.gif", b"GIF89a" + b"\x00" * 50, "image/gif"),
    ],
)
def test_wrong_type_document_is_400_invalid_file_and_nothing_is_stored(user_client, user, name, content, content_type):
    response = submit(user_client, document=SimpleUploadedFile(name, content, content_type=content_type))
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_FILE"
    assert_nothing_stored(user)


def test_oversized_document_is_400_invalid_file_and_nothing_is_stored(user_client, user, settings):
    settings.KYC_DOCUMENT_MAX_BYTES = 1000
    response = submit(user_client, document=SimpleUploadedFile("id.pdf", PDF + b"x" * 1000, content_type="application/pdf"))
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_FILE"
    assert_nothing_stored(user)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": "2015-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1990-13-45"}, "date_of_birth"),
        ({"id_type": "passport"}, "id_type"),
        ({"tier": 3}, "document"),
        ({"tier": 9}, "tier"),
    ],
)
def test_other_bad_input_is_400_and_nothing_is_stored(user_client, user, overrides, field):
    response = submit(user_client, **overrides)
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert field in response.json()["errors"]
    assert_nothing_stored(user)


def test_one_pending_submission_at_a_time(user_client, user):
    assert submit(user_client).status_code == 201
    again = submit(user_client, id_type="nin")
    assert again.status_code == 409
    assert again.json()["error_code"] == "INVALID_STATE"
    assert KYCSubmission.objects.count() == 1


def test_an_api_key_cannot_submit_kyc(user):
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=issue_key(user, ["read", "purchase", "transfer", "deposit"]))
    response = submit(api)
    assert response.status_code == 403
    assert response.json()["error_code"] == "INSUFFICIENT_SCOPE"
    assert api.get("/api/v1/kyc/status").status_code == 200
    assert_nothing_stored(user)


def _fund(user, amount_kobo):
    from wallets.tests.factories import fund_wallet

    fund_wallet(user, amount_kobo)


def _transfer(client, recipient, amount, key):
    return client.post(
        "/api/v1/wallet/transfer", {"recipient": recipient.email, "amount": amount, "pin": PIN}, format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_approval_raises_the_tier_and_the_limits(user_client, user, settings):
    staff = Actor.for_user(UserFactory(is_staff=True))
    tier0_single = settings.KYC_TIER_LIMITS_KOBO[0]["single"]
    amount = tier0_single + 100_000
    assert amount <= settings.KYC_TIER_LIMITS_KOBO[2]["single"]
    recipient = UserFactory(kyc_tier=3)
    _fund(user, amount + 1_000_000)
    before = user_client.get("/api/v1/wallet/me").json()["limits"]
    assert before["single"] == tier0_single
    refused = _transfer(user_client, recipient, amount, "t-1")
    assert refused.status_code == 403 and refused.json()["error_code"] == "LIMIT_EXCEEDED"

    submission_id = submit(user_client, document=SimpleUploadedFile("id.pdf", PDF, content_type="application/pdf")).json()["id"]
    kyc.kyc_approve(staff=staff, submission_id=submission_id, reason="BVN and ID match")
    user.refresh_from_db()
    assert user.kyc_tier == 2
    after = user_client.get("/api/v1/wallet/me").json()["limits"]
    assert after["single"] == settings.KYC_TIER_LIMITS_KOBO[2]["single"] > before["single"]
    assert user_client.get("/api/v1/kyc/status").json()["limits"]["single"] == after["single"]
    assert _transfer(user_client, recipient, amount, "t-2").status_code == 201
    audit = AuditLog.objects.get(action="kyc.approve")
    assert audit.changes["kyc_tier"] == [0, 2] and audit.reason == "BVN and ID match"
    assert "approved" in mail.outbox[-1].subject.lower()
    with pytest.raises(Exception, match="already approved"):
        kyc.kyc_approve(staff=staff, submission_id=submission_id, reason="again")


def test_reject_with_reason_then_resubmit_then_approve(user_client, user):
    staff = Actor.for_user(UserFactory(is_staff=True))
    first = submit(user_client).json()["id"]
    with pytest.raises(Exception, match="reason"):
        kyc.kyc_reject(staff=staff, submission_id=first, reason="  ")
    kyc.kyc_reject(staff=staff, submission_id=first, reason="Date of birth does not match the BVN")
    status = user_client.get("/api/v1/kyc/status").json()
    assert status["submissions"]["results"][0]["status"] == "rejected"
    assert status["submissions"]["results"][0]["decision_reason"] == "Date of birth does not match the BVN"
    assert "does not match" in mail.outbox[-1].body
    again = user_client.post(
        f"/api/v1/kyc/resubmit/{first}", {"id_type": "bvn", "id_number": BVN, "date_of_birth": "1990-04-02"}, format="json"
    )
    assert again.status_code == 201, again.content
    assert again.json()["resubmission_of"] == first
    twice = user_client.post(
        f"/api/v1/kyc/resubmit/{first}", {"id_type": "bvn", "id_number": BVN, "date_of_birth": "1990-04-02"}, format="json"
    )
    assert twice.status_code == 409
    kyc.kyc_approve(staff=staff, submission_id=again.json()["id"], reason="ok")
    user.refresh_from_db()
    assert user.kyc_tier == 1
    assert KYCSubmission.objects.filter(user=user).count() == 2


def test_resubmit_of_a_pending_or_foreign_submission_is_refused(user_client, user):
    pending = submit(user_client).json()["id"]
    body = {"id_type": "bvn", "id_number": BVN, "date_of_birth": "1990-04-02"}
    assert user_client.post(f"/api/v1/kyc/resubmit/{pending}", body, format="json").status_code == 409
    other = authenticate(type(user_client)(), UserFactory())
    assert other.post(f"/api/v1/kyc/resubmit/{pending}", body, format="json").status_code == 404


def test_staff_approve_in_admin_with_a_reason_and_tier(user_client, user):
    submission_id = submit(user_client).json()["id"]
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)
    changelist = "/admin/accounts/kycsubmission/"
    form = browser.post(changelist, {"action": "approve", "_selected_action": [submission_id]})
    assert form.status_code == 200 and b"Reason" in form.content
    assert KYCSubmission.objects.get().status == "pending"
    done = browser.post(
        changelist,
        {"action": "approve", "_selected_action": [submission_id], "apply": "1", "reason": "Checked by phone", "tier": "2"},
    )
    assert done.status_code == 302
    submission = KYCSubmission.objects.get()
    assert submission.status == "approved" and submission.granted_tier == 2 and submission.decided_by_id == staff.pk
    user.refresh_from_db()
    assert user.kyc_tier == 2
    assert AuditLog.objects.get(action="kyc.approve").actor_user_id == staff.pk


def test_staff_reads_the_document_through_the_admin_only(user_client, user):
    submit(user_client, document=SimpleUploadedFile("id.png", PNG, content_type="image/png"))
    submission = KYCSubmission.objects.get()
    url = f"/admin/accounts/kycsubmission/{submission.pk}/document/"
    assert Client().get(url).status_code == 302  # to the login page
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = browser.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG


def test_reseller_admin_pages_render_and_actions_call_the_services(user_client, user):
    """Changelists and change pages of keys, endpoints, deliveries, KYC; revoke and
    re-enable from the admin (with a reason, audited)."""
    from accounts.models import APIKey, CallbackDelivery, CallbackEndpoint

    issue_key(user)
    key = APIKey.objects.get()
    endpoint = CallbackEndpoint.objects.create(user=user, url="https://127.0.0.1/cb", events=["purchase.failed"],
                                               secret_encrypted="x", is_active=False)
    delivery = CallbackDelivery.objects.create(endpoint=endpoint, event_id="e1", event_type="purchase.failed", body="{}",
                                               status="failed")
    submit(user_client)
    browser = Client()
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser.force_login(staff)
    for model, pk in [("apikey", key.pk), ("callbackendpoint", endpoint.pk), ("callbackdelivery", delivery.pk),
                      ("kycsubmission", KYCSubmission.objects.get().pk)]:
        assert browser.get(f"/admin/accounts/{model}/").status_code == 200, model
        page = browser.get(f"/admin/accounts/{model}/{pk}/change/")
        assert page.status_code == 200, model
        assert b"secret_hash" not in page.content and b"secret_encrypted" not in page.content
    done = browser.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk], "apply": "1",
                                                   "reason": "leaked on GitHub"})
    assert done.status_code == 302
    assert APIKey.objects.get().revoked_at is not None
    assert AuditLog.objects.get(action="api_key.revoke").reason == "leaked on GitHub"
    browser.post("/admin/accounts/callbackendpoint/", {"action": "enable", "_selected_action": [endpoint.pk],
                                                       "apply": "1", "reason": "reseller fixed the server"})
    assert CallbackEndpoint.objects.get().is_active
    assert AuditLog.objects.filter(action="callback_endpoint.enable").count() == 1
