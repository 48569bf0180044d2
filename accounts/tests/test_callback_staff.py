"""Staff and callbacks: reading another user's delivery log and re-sending needs a staff
group holding the permission (a bare is_staff flag or a staff member's API key is no pass),
in the API and in the admin; and re-sending what a disabled or deleted endpoint missed to
the owner's replacement endpoint."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import callback_signing, callbacks
from accounts.models import CallbackDelivery, CallbackEndpoint
from accounts.tests.factories import UserFactory
from accounts.tests.reseller_fixtures import issue_key
from audit.models import AuditLog
from backoffice.tests.factories import staff_user
from conftest import authenticate

pytestmark = pytest.mark.django_db

EVENT = "purchase.successful:VTU-0001"


def register(client, url, events=("purchase.successful",)) -> dict:
    response = client.post("/api/v1/webhooks", {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def emit(user, event_id=EVENT) -> None:
    from django.db import transaction

    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id=event_id,
                                data={"reference": "VTU-0001"})


@pytest.fixture
def delivered(user_client, user, receiver, clock):
    endpoint = register(user_client, receiver.url())
    emit(user)
    return endpoint, CallbackDelivery.objects.get()


def _paths(endpoint: dict, delivery: CallbackDelivery) -> tuple[str, str]:
    base = f"/api/v1/webhooks/{endpoint['id']}/deliveries"
    return base, f"{base}/{delivery.pk}/resend"


@pytest.mark.parametrize("group", [None, "finance"])
def test_staff_without_the_permission_cannot_read_or_resend(delivered, receiver, group):
    endpoint, delivery = delivered
    log, resend = _paths(endpoint, delivery)
    staff = authenticate(APIClient(), staff_user(group))
    assert staff.get(log).status_code == 404
    assert staff.post(resend).status_code == 404
    assert len(receiver.requests) == 1
    assert not AuditLog.objects.filter(action="callback_delivery.resend").exists()


@pytest.mark.parametrize("group", ["support", "admin"])
def test_staff_whose_group_holds_the_permission_read_and_resend(delivered, receiver, group):
    endpoint, delivery = delivered
    log, resend = _paths(endpoint, delivery)
    member = staff_user(group)
    staff = authenticate(APIClient(), member)
    assert staff.get(log).json()["results"][0]["id"] == delivery.pk
    assert staff.post(resend).status_code == 202
    assert len(receiver.requests) == 2
    assert AuditLog.objects.get(action="callback_delivery.resend").actor_user_id == member.pk
    assert staff.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404  # deleting stays the owner's


def test_a_staff_members_api_key_is_no_staff_pass(delivered, receiver):
    endpoint, delivery = delivered
    log, _ = _paths(endpoint, delivery)
    keyed = APIClient()
    keyed.credentials(HTTP_X_API_KEY=issue_key(staff_user("support"), ["read"]))
    assert keyed.get(log).status_code == 404


@pytest.mark.parametrize(("group", "allowed"), [(None, False), ("finance", False), ("support", True)])
def test_the_admin_resend_action_needs_the_permission(delivered, receiver, group, allowed):
    _, delivery = delivered
    browser = Client()
    browser.force_login(staff_user(group))
    response = browser.post("/admin/accounts/callbackdelivery/", {"action": "resend", "_selected_action": [delivery.pk]})
    assert response.status_code in (200, 302, 403)
    assert len(receiver.requests) == (2 if allowed else 1)
    assert AuditLog.objects.filter(action="callback_delivery.resend").exists() is allowed


# --- re-sending what a disabled or deleted endpoint missed ---------------------------------------


@pytest.fixture
def missed(user_client, user, receiver, clock):
    """An endpoint that failed a delivery and was then deleted, and its replacement."""
    old = register(user_client, receiver.url("/old"))
    receiver.answer((500, b"", {}))
    emit(user)
    assert user_client.delete(f"/api/v1/webhooks/{old['id']}").status_code == 204
    receiver.answer((200, b"ok", {}))
    new = register(user_client, receiver.url("/new"))
    return old, new, CallbackDelivery.objects.get(endpoint_id=old["id"])


def test_a_deleted_endpoints_delivery_is_resent_to_the_replacement(user_client, receiver, missed):
    old, new, delivery = missed
    _, resend = _paths(old, delivery)
    refused = user_client.post(resend)
    assert refused.status_code == 409 and refused.json()["error_code"] == "INVALID_STATE"
    assert "to_endpoint_id" in refused.json()["detail"]

    response = user_client.post(resend, {"to_endpoint_id": new["id"]}, format="json")
    assert response.status_code == 202, response.content
    got = receiver.requests[-1]
    assert got.path == "/new"
    assert got.body == receiver.requests[0].body  # the same event id and bytes as the missed one
    assert got.headers["X-VTU-Event-Id"] == EVENT
    assert callback_signing.signature_verify(  # signed with the replacement's secret
        secret=new["secret"], header=got.headers["X-VTU-Signature"], body=got.body,
        now=int(got.headers["X-VTU-Signature"].split(",")[0][2:]),
    )
    copy = CallbackDelivery.objects.get(endpoint_id=new["id"])
    assert response.json()["id"] == copy.pk and copy.status == "succeeded" and copy.event_id == EVENT
    assert CallbackDelivery.objects.get(pk=delivery.pk).status == "failed"  # the old log is left as it was
    assert AuditLog.objects.get(action="callback_delivery.resend", target_id=str(copy.pk)).changes

    again = user_client.post(resend, {"to_endpoint_id": new["id"]}, format="json")
    assert again.status_code == 202 and again.json()["id"] == copy.pk  # one row per endpoint and event
    assert CallbackDelivery.objects.filter(endpoint_id=new["id"]).count() == 1


def test_the_replacement_must_be_the_owners_active_and_subscribed(user_client, receiver, missed):
    old, new, delivery = missed
    _, resend = _paths(old, delivery)
    other_events = register(user_client, receiver.url("/deposits"), events=["deposit.successful"])
    stranger = UserFactory()
    foreign = CallbackEndpoint.objects.create(user=stranger, url=receiver.url("/x"), events=["purchase.successful"],
                                              secret_encrypted=callback_signing.secret_encrypt("whsec_x"))
    sent = len(receiver.requests)
    for target, status in [(other_events["id"], 409), (foreign.pk, 404), (old["id"], 409)]:
        response = user_client.post(resend, {"to_endpoint_id": target}, format="json")
        assert response.status_code == status, (target, response.content)
    bad = user_client.post(resend, {"to_endpoint_id": "two"}, format="json")
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    assert len(receiver.requests) == sent
    assert CallbackDelivery.objects.count() == 1
    assert not AuditLog.objects.filter(action="callback_delivery.resend").exists()
    # Disabled (not deleted) endpoints are the same case as deleted ones.
    CallbackEndpoint.objects.filter(pk=new["id"]).update(is_active=False)
    assert user_client.post(resend, {"to_endpoint_id": new["id"]}, format="json").status_code == 409
