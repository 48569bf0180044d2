"""The Idempotency-Key store: replay, 409 in flight, 422 on another body, 24 h expiry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from config.models import IdempotencyRecord
from conftest import authenticate
from tests import urls as probe

pytestmark = pytest.mark.urls("tests.urls")


@pytest.fixture(autouse=True)
def _reset_probe():
    probe.calls.clear()
    probe.handler_entered.clear()
    probe.handler_release.clear()
    yield
    probe.handler_release.set()


def _post(client, body, key="key-1"):
    return client.post("/api/v1/test/echo", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_replay_returns_first_response_without_running_again(user_client):
    first = _post(user_client, {"amount": 500})
    second = _post(user_client, {"amount": 500})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"amount": 500, "call": 1}
    assert second["Idempotency-Replayed"] == "true"
    assert len(probe.calls) == 1


@pytest.mark.django_db
def test_same_key_other_body_is_422(user_client):
    _post(user_client, {"amount": 500})
    other = _post(user_client, {"amount": 501})
    assert other.status_code == 422
    assert other.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(probe.calls) == 1


@pytest.mark.django_db
def test_key_order_and_whitespace_do_not_change_the_fingerprint(user_client):
    _post(user_client, {"amount": 500, "block": False})
    again = user_client.post(
        "/api/v1/test/echo", data='{ "block": false,  "amount": 500 }', content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )
    assert again.status_code == 201
    assert again["Idempotency-Replayed"] == "true"


@pytest.mark.django_db
def test_rejections_are_stored_and_replayed(user_client):
    first = _post(user_client, {"amount": 500, "fail": "funds"})
    second = _post(user_client, {"amount": 500, "fail": "funds"})
    assert first.status_code == second.status_code == 402
    assert second.json()["error_code"] == "INSUFFICIENT_FUNDS"
    assert len(probe.calls) == 1


@pytest.mark.django_db
def test_server_errors_are_not_stored(user_client):
    assert _post(user_client, {"amount": 500, "fail": "crash"}).status_code == 500
    assert not IdempotencyRecord.objects.exists()
    assert _post(user_client, {"amount": 500, "fail": "crash"}).status_code == 500
    assert len(probe.calls) == 2


@pytest.mark.django_db
def test_keys_are_per_user(user_client):
    other = authenticate(APIClient(), UserFactory())
    assert _post(user_client, {"amount": 500}).json()["call"] == 1
    assert _post(other, {"amount": 900}).json() == {"amount": 900, "call": 2}


@pytest.mark.django_db
def test_expired_key_is_new_again(user_client):
    _post(user_client, {"amount": 500})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    fresh = _post(user_client, {"amount": 700})
    assert fresh.status_code == 201
    assert fresh.json()["call"] == 2


@pytest.mark.django_db
def test_invalid_key_is_refused(user_client):
    response = _post(user_client, {"amount": 500}, key="x" * 256)
    assert response.status_code == 400
    assert response.json()["error_code"] == "IDEMPOTENCY_KEY_INVALID"
    assert probe.calls == []


@pytest.mark.django_db(transaction=True)
def test_in_flight_twin_gets_409_then_the_replay():
    user = UserFactory()
    results: dict[str, int] = {}

    def first() -> None:
        client = authenticate(APIClient(), user)
        results["first"] = _post(client, {"amount": 500, "block": True}).status_code
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert probe.handler_entered.wait(timeout=10)
    twin = _post(authenticate(APIClient(), user), {"amount": 500, "block": True})
    assert twin.status_code == 409
    assert twin.json()["error_code"] == "IDEMPOTENCY_IN_FLIGHT"
    probe.handler_release.set()
    thread.join(timeout=10)
    assert results["first"] == 201
    replay = _post(authenticate(APIClient(), user), {"amount": 500, "block": True})
    assert replay.status_code == 201
    assert len(probe.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_run_the_handler_once():
    user = UserFactory()
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def worker() -> None:
        client = authenticate(APIClient(), user)
        barrier.wait()
        statuses.append(_post(client, {"amount": 500}).status_code)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(probe.calls) == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_relaxed_commit_applies_to_the_record_only():
    """The claim commits without waiting for the WAL flush, and the setting never leaks into
    the connection's later transactions (a purchase or a transfer must commit durably)."""
    from config.api.idempotency import _insert

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert _insert(owner="user:1", key="k", method="POST", path="/x", fingerprint="f", now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    from django.db import transaction

    with transaction.atomic():
        _insert(owner="user:1", key="k2", method="POST", path="/x", fingerprint="f", now=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    assert IdempotencyRecord.objects.count() == 2
