"""Reseller callbacks against a local HTTPS receiver: signed deliveries, the retry schedule
(with an injected clock), one event id per event, re-send, disabling a failing endpoint."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts import callback_endpoints, callback_signing, callbacks
from accounts.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from accounts.tests.callback_receiver import HOSTNAME
from accounts.tests.factories import UserFactory
from accounts.tests.reseller_fixtures import rows_containing
from audit.models import AuditLog
from conftest import authenticate

pytestmark = pytest.mark.django_db

PURCHASE = {"reference": "VTU-0001", "status": "successful", "amount_kobo": 50_000, "phone": "+2348031234567"}


def register(client, url, events=("purchase.successful", "purchase.failed")) -> dict:
    response = client.post("/api/v1/webhooks", {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def emit(user, event_type="purchase.successful", event_id="purchase.successful:VTU-0001", data=None) -> None:
    # As vtu/payments do: inside the transaction that made the change.
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type=event_type, event_id=event_id, data=data or PURCHASE)


def test_delivery_is_signed_and_verifies_with_the_secret_shown_once(user_client, user, receiver, clock):
    endpoint = register(user_client, receiver.url())
    assert endpoint["secret"].startswith("whsec_")
    assert "secret" not in user_client.get("/api/v1/webhooks").json()["results"][0]
    emit(user)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/vtu/callbacks"
    assert got.headers["Host"] == f"{HOSTNAME}:{receiver.port}"  # the name, though we connected to the pinned IP
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-VTU-Event"] == "purchase.successful"
    assert got.headers["X-VTU-Event-Id"] == "purchase.successful:VTU-0001"
    body = got.json()
    assert body["id"] == "purchase.successful:VTU-0001"
    assert body["type"] == "purchase.successful"
    assert body["data"] == PURCHASE
    assert body["created_at"]
    signature = got.headers["X-VTU-Signature"]
    assert signature == f"t={int(clock.now.timestamp())},v1=" + signature.split("v1=")[1]
    assert callback_signing.signature_verify(
        secret=endpoint["secret"], header=signature, body=got.body, now=clock.now.timestamp()
    )
    assert not callback_signing.signature_verify(
        secret=endpoint["secret"], header=signature, body=got.body.replace(b"50000", b"90000"), now=clock.now.timestamp()
    )
    assert not callback_signing.signature_verify(secret="whsec_wrong", header=signature, body=got.body, now=clock.now.timestamp())
    assert not callback_signing.signature_verify(  # replayed ten minutes later
        secret=endpoint["secret"], header=signature, body=got.body, now=clock.now.timestamp() + 600
    )

    delivery = CallbackDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.next_attempt_at is None
    attempt = CallbackAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == ("success", 200, '{"ok":true}')
    assert attempt.latency_ms >= 0


def test_secret_is_encrypted_at_rest_and_survives_secret_key_rotation(user_client, user, receiver, clock, settings):
    secret = register(user_client, receiver.url())["secret"]
    assert rows_containing(secret[len("whsec_"):]) == []
    stored = CallbackEndpoint.objects.get()
    assert callback_signing.secret_decrypt(stored.secret_encrypted) == secret
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "y" * 40
    emit(user)
    got = receiver.requests[0]
    assert callback_signing.signature_verify(
        secret=secret, header=got.headers["X-VTU-Signature"], body=got.body, now=clock.now.timestamp()
    )


def test_nothing_is_sent_when_the_emitting_transaction_rolls_back(user_client, user, receiver):
    register(user_client, receiver.url())
    with pytest.raises(RuntimeError), transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e-1", data=PURCHASE)
        raise RuntimeError("the purchase failed to commit")
    assert CallbackDelivery.objects.count() == 0
    assert receiver.requests == []


def test_one_event_id_is_one_delivery(user_client, user, receiver):
    register(user_client, receiver.url())
    emit(user)
    emit(user)  # the emitter ran twice (a retried task)
    assert CallbackDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_only_active_endpoints_that_want_the_event_get_it(user_client, user, receiver):
    wants = register(user_client, receiver.url("/a"), events=["deposit.successful"])
    register(user_client, receiver.url("/b"), events=["purchase.failed"])
    deleted = register(user_client, receiver.url("/c"), events=["deposit.successful"])
    assert user_client.delete(f"/api/v1/webhooks/{deleted['id']}").status_code == 204
    other = UserFactory()
    register(authenticate(type(user_client)(), other), receiver.url("/other"), events=["deposit.successful"])
    emit(user, event_type="deposit.successful", event_id="deposit.successful:D1", data={"reference": "D1"})
    assert [r.path for r in receiver.requests] == ["/a"]
    assert CallbackDelivery.objects.get().endpoint_id == wants["id"]


def test_unknown_event_type_is_a_programming_error():
    with pytest.raises(ValueError):
        callbacks.callback_emit(user_id=1, event_type="purchase.exploded", event_id="x", data={})


def test_failed_attempts_follow_the_retry_schedule_then_give_up(user_client, user, receiver, clock):
    register(user_client, receiver.url())
    receiver.answer((500, b"upstream down", {}))
    started = clock.now
    emit(user)
    delivery = CallbackDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    expected_times = [started]
    for delay in callbacks.RETRY_SCHEDULE_SECONDS:
        due = delivery.next_attempt_at
        assert due == clock.now + timedelta(seconds=delay)
        clock.advance(delay - 1)
        assert callbacks.callback_deliveries_claim_due() == []  # not due yet: nothing sent
        clock.advance(1)
        assert len(callbacks.callback_deliveries_claim_due()) == 1
        expected_times.append(clock.now)
        delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert delivery.attempts == callbacks.MAX_ATTEMPTS == len(receiver.requests)
    assert (clock.now - started).total_seconds() >= 24 * 3600
    stamps = [int(r.headers["X-VTU-Signature"].split(",")[0][2:]) for r in receiver.requests]
    assert stamps == [int(t.timestamp()) for t in expected_times]
    # Every attempt is the same event: same id, same bytes.
    assert {r.headers["X-VTU-Event-Id"] for r in receiver.requests} == {"purchase.successful:VTU-0001"}
    assert len({r.body for r in receiver.requests}) == 1
    attempts = list(CallbackAttempt.objects.order_by("number"))
    assert [a.number for a in attempts] == list(range(1, callbacks.MAX_ATTEMPTS + 1))
    assert {(a.outcome, a.status_code, a.response_excerpt) for a in attempts} == {("http_error", 500, "upstream down")}
    clock.advance(10 * 24 * 3600)
    assert callbacks.callback_deliveries_claim_due() == []


def test_success_after_failures_stops_the_retries(user_client, user, receiver, clock):
    register(user_client, receiver.url())
    receiver.answer((503, b"", {}), (502, b"", {}), (204, b"", {}))
    emit(user)
    for delay in callbacks.RETRY_SCHEDULE_SECONDS[:2]:
        clock.advance(delay)
        callbacks.callback_deliveries_claim_due()
    delivery = CallbackDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert CallbackEndpoint.objects.get().failing_since is None
    clock.advance(3600 * 48)
    assert callbacks.callback_deliveries_claim_due() == []
    assert len(receiver.requests) == 3


def test_a_timeout_is_a_failed_attempt(user_client, user, receiver, clock, settings):
    register(user_client, receiver.url())
    settings.CALLBACK_TIMEOUT_SECONDS = 0.3
    receiver.hang = threading.Event()  # the receiver never answers in time
    emit(user)
    delivery = CallbackDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error
    assert CallbackAttempt.objects.get().outcome == "timeout"


def test_redirects_are_not_followed(user_client, user, receiver, clock):
    register(user_client, receiver.url())
    receiver.answer((302, b"", {"Location": receiver.url("/elsewhere")}))
    emit(user)
    assert [r.path for r in receiver.requests] == ["/vtu/callbacks"]
    attempt = CallbackAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code) == ("http_error", 302)


def test_a_duplicate_task_does_not_send_twice(user_client, user, receiver, clock):
    register(user_client, receiver.url())
    receiver.answer((500, b"", {}))
    emit(user)
    clock.advance(60)
    [(delivery_id, token)] = callbacks.callback_deliveries_claim_due()  # attempt 2 runs (eager Celery)
    assert len(receiver.requests) == 2
    # The broker delivers the same task message again: its token is spent.
    assert callbacks.callback_delivery_attempt(delivery_id=delivery_id, claim_token=token) is None
    assert len(receiver.requests) == 2
    assert CallbackDelivery.objects.get().attempts == 2


def test_resend_sends_the_same_event_again(user_client, user, receiver, clock):
    endpoint = register(user_client, receiver.url())
    emit(user)
    delivery = CallbackDelivery.objects.get()
    listed = user_client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()["results"]
    assert [d["event_id"] for d in listed] == ["purchase.successful:VTU-0001"]
    assert listed[0]["attempt_log"][0]["status_code"] == 200
    clock.advance(5)
    response = user_client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery.pk}/resend")
    assert response.status_code == 202, response.content
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body  # the same event: a receiver deduplicating on "id" ignores it
    assert first.headers["X-VTU-Signature"] != second.headers["X-VTU-Signature"]  # a fresh timestamp
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2
    assert AuditLog.objects.filter(action="callback_delivery.resend", target_id=str(delivery.pk)).count() == 1


def test_resend_is_refused_while_an_attempt_is_in_flight(user_client, user, receiver, clock):
    endpoint = register(user_client, receiver.url())
    receiver.answer((500, b"", {}))
    emit(user)
    delivery = CallbackDelivery.objects.get()
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        claim_token="someone", claimed_until=clock.now + timedelta(seconds=30)
    )
    response = user_client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery.pk}/resend")
    assert response.status_code == 409
    assert response.json()["error_code"] == "INVALID_STATE"
    assert len(receiver.requests) == 1


def test_other_users_cannot_see_or_resend_deliveries(user_client, user, receiver, clock):
    """(Staff access to other users' deliveries: test_callback_staff.py.)"""
    endpoint = register(user_client, receiver.url())
    emit(user)
    delivery = CallbackDelivery.objects.get()
    stranger = authenticate(type(user_client)(), UserFactory())
    assert stranger.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").status_code == 404
    assert stranger.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery.pk}/resend").status_code == 404
    assert stranger.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404
    assert len(receiver.requests) == 1


def test_an_endpoint_failing_for_days_is_disabled_and_its_owner_emailed(user_client, user, receiver, clock, settings):
    settings.CALLBACK_DISABLE_AFTER_DAYS = 1
    endpoint = register(user_client, receiver.url())
    receiver.answer((500, b"", {}))
    emit(user)
    emit(user, event_id="purchase.successful:VTU-0002")
    for delay in callbacks.RETRY_SCHEDULE_SECONDS:
        clock.advance(delay)
        callbacks.callback_deliveries_claim_due()
        if not CallbackEndpoint.objects.get().is_active:
            break
    stored = CallbackEndpoint.objects.get()
    assert not stored.is_active and stored.disabled_at == clock.now
    assert user_client.get("/api/v1/webhooks").json()["results"][0]["status"] == "disabled"
    assert set(CallbackDelivery.objects.values_list("status", flat=True)) == {"failed"}
    assert AuditLog.objects.filter(action="callback_endpoint.disable", target_id=str(endpoint["id"])).count() == 1
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert receiver.url() in mail.outbox[0].body
    sent = len(receiver.requests)
    emit(user, event_id="purchase.successful:VTU-0003")
    assert len(receiver.requests) == sent  # a disabled endpoint gets nothing new


def test_a_quiet_gap_restarts_the_failing_streak(user_client, user, receiver, clock, settings):
    settings.CALLBACK_DISABLE_AFTER_DAYS = 3
    register(user_client, receiver.url())
    receiver.answer((500, b"", {}))
    emit(user, event_id="e-1")
    clock.advance(5 * 24 * 3600)  # nothing for five days, then one more failure
    emit(user, event_id="e-2")
    endpoint = CallbackEndpoint.objects.get()
    assert endpoint.is_active and endpoint.failing_since == clock.now


def test_deleting_an_endpoint_closes_its_pending_deliveries(user_client, user, receiver, clock):
    endpoint = register(user_client, receiver.url())
    receiver.answer((500, b"", {}))
    emit(user)
    assert user_client.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    assert user_client.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    assert CallbackDelivery.objects.get().status == "failed"
    assert user_client.get("/api/v1/webhooks").json()["count"] == 0
    assert user_client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").status_code == 200  # log kept
    clock.advance(3600)
    assert callbacks.callback_deliveries_claim_due() == []
    assert AuditLog.objects.filter(action="callback_endpoint.delete").count() == 1


def test_endpoint_limit_and_bad_input_store_nothing(user_client, user, receiver, settings):
    settings.CALLBACK_MAX_ENDPOINTS = 2
    register(user_client, receiver.url("/1"))
    register(user_client, receiver.url("/2"))
    refused = user_client.post("/api/v1/webhooks", {"url": receiver.url("/3"), "events": ["purchase.failed"]}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "CALLBACK_ENDPOINT_LIMIT"
    for body in [{"url": receiver.url(), "events": []}, {"url": receiver.url(), "events": ["purchase.exploded"]},
                 {"url": 5, "events": ["purchase.failed"]}]:
        response = user_client.post("/api/v1/webhooks", body, format="json")
        assert response.status_code in (400, 409)
    assert CallbackEndpoint.objects.count() == 2
    assert AuditLog.objects.filter(action="callback_endpoint.create").count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_emitters_of_one_event_make_one_delivery(receiver, clock):
    user = UserFactory()
    created = callback_endpoints.callback_endpoint_create(user=user, url=receiver.url(), events=["purchase.successful"])
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def emitter() -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="evt-1", data={})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=emitter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert CallbackDelivery.objects.filter(endpoint=created.endpoint).count() == 1
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0].body)["id"] == "evt-1"


@pytest.mark.django_db(transaction=True)
def test_sweeper_skips_rows_another_sweeper_holds(receiver, clock):
    user = UserFactory()
    endpoint = callback_endpoints.callback_endpoint_create(user=user, url=receiver.url(), events=["purchase.failed"]).endpoint
    rows = [
        CallbackDelivery.objects.create(endpoint=endpoint, event_id=f"e{i}", event_type="purchase.failed", body="{}",
                                        next_attempt_at=clock.now)
        for i in range(2)
    ]
    held = threading.Event()
    release = threading.Event()

    def other_sweeper() -> None:
        try:
            with transaction.atomic():
                CallbackDelivery.objects.select_for_update().get(pk=rows[0].pk)
                held.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_sweeper)
    thread.start()
    assert held.wait(timeout=10)
    try:
        claimed = callbacks.callback_deliveries_claim_due()
    finally:
        release.set()
        thread.join(timeout=10)
    assert [pk for pk, _ in claimed] == [rows[1].pk]
    assert [r.headers["X-VTU-Event-Id"] for r in receiver.requests] == ["e1"]



@pytest.mark.parametrize("by", ["wallet number", "e-mail"])
def test_a_transfer_calls_back_its_recipient_transfer_received(user_client, user, receiver, by):
    """The recipient lookup tells the transfer whether the recipient has an endpoint at all
    (one query fewer when not): with one, the event must still go out, once."""
    from wallets.services import wallet_get_or_create
    from wallets.tests.factories import fund_wallet

    sender = UserFactory()
    fund_wallet(sender, 10_000)
    register(user_client, receiver.url(), events=["transfer.received"])
    to = wallet_get_or_create(user_id=user.pk).number if by == "wallet number" else user.email
    sent = authenticate(type(user_client)(), sender).post(
        "/api/v1/wallet/transfer", {"recipient": to, "amount": 2500, "pin": "1234"}, format="json")

    assert sent.status_code == 201, sent.content
    assert [request.json()["type"] for request in receiver.requests] == ["transfer.received"]
    data = receiver.requests[0].json()["data"]
    assert (data["reference"], data["amount"]) == (sent.json()["reference"], 2500)


def test_a_transfer_to_someone_without_endpoints_queues_nothing(user, receiver):
    from wallets.selectors import recipient_find
    from wallets.services import wallet_get_or_create

    found, _wallets = recipient_find(recipient=wallet_get_or_create(user_id=user.pk).number)
    assert found is not None and found.has_callbacks is False
    register(authenticate(APIClient(), user), receiver.url(), events=["transfer.received"])
    found, _wallets = recipient_find(recipient=wallet_get_or_create(user_id=user.pk).number)
    assert found.has_callbacks is True
