"""The API request log: what is written, when, and what never is."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from audit import request_log
from audit.middleware import RequestLogMiddleware
from audit.models import RequestLog
from conftest import authenticate

pytestmark = pytest.mark.django_db
CANARY = "canary-secret-4242"


@override_settings(REQUEST_LOG_BATCH_SIZE=1)
def test_an_authenticated_api_request_is_logged_without_body_or_query(api_client, user):
    authenticate(api_client, user)
    response = api_client.get(f"/api/v1/auth/me?token={CANARY}", HTTP_X_REQUEST_ID="req-abc", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200
    row = RequestLog.objects.get()
    assert (row.method, row.path, row.status) == ("GET", "/api/v1/auth/me", 200)
    assert (row.user_id, row.api_key_id, row.ip, row.request_id) == (user.pk, None, "198.51.100.7", "req-abc")
    assert row.latency_ms >= 0
    stored = " ".join(str(value) for value in RequestLog.objects.values().get().values())
    assert CANARY not in stored


@override_settings(REQUEST_LOG_BATCH_SIZE=1)
def test_a_post_body_is_never_stored(api_client):
    response = api_client.post("/api/v1/auth/login", {"email": "a@example.com", "password": CANARY}, format="json")
    assert response.status_code == 401
    row = RequestLog.objects.get()
    assert (row.path, row.status, row.user_id) == ("/api/v1/auth/login", 401, None)
    assert CANARY not in " ".join(str(value) for value in RequestLog.objects.values().get().values())


@override_settings(REQUEST_LOG_BATCH_SIZE=1000, REQUEST_LOG_FLUSH_SECONDS=3600, REQUEST_LOG_SAMPLE_RATE=0.0)
def test_errors_are_never_sampled_out_and_never_wait(api_client):
    assert api_client.get("/api/v1/auth/me").status_code == 401
    assert list(RequestLog.objects.values_list("status", flat=True)) == [401]
    assert request_log.buffered_count() == 0


@override_settings(REQUEST_LOG_BATCH_SIZE=1000, REQUEST_LOG_FLUSH_SECONDS=3600, REQUEST_LOG_SAMPLE_RATE=0.0)
def test_successful_requests_are_sampled(api_client, user):
    authenticate(api_client, user)
    assert api_client.get("/api/v1/auth/me").status_code == 200
    assert request_log.buffered_count() == 0
    assert RequestLog.objects.count() == 0


@override_settings(REQUEST_LOG_BATCH_SIZE=3, REQUEST_LOG_FLUSH_SECONDS=3600)
def test_successful_requests_are_written_in_batches_and_an_error_flushes_the_batch(api_client, user):
    authenticate(api_client, user)
    api_client.get("/api/v1/auth/me")
    api_client.get("/api/v1/auth/me")
    assert (RequestLog.objects.count(), request_log.buffered_count()) == (0, 2)
    api_client.get("/api/v1/auth/me")
    assert (RequestLog.objects.count(), request_log.buffered_count()) == (3, 0)
    api_client.get("/api/v1/auth/me")
    api_client.credentials()
    api_client.get("/api/v1/auth/me")  # 401: written at once with the buffered 200
    assert list(RequestLog.objects.order_by("id").values_list("status", flat=True)) == [200, 200, 200, 200, 401]


@override_settings(REQUEST_LOG_BATCH_SIZE=1000, REQUEST_LOG_FLUSH_SECONDS=0)
def test_a_batch_older_than_the_flush_interval_is_written(api_client, user):
    authenticate(api_client, user)
    api_client.get("/api/v1/auth/me")
    assert RequestLog.objects.count() == 1


@override_settings(REQUEST_LOG_BATCH_SIZE=1, API_MAX_BODY_BYTES=10)
def test_a_413_from_the_body_size_guard_is_logged(api_client):
    response = api_client.post("/api/v1/auth/login", {"email": "x" * 50}, format="json")
    assert response.status_code == 413
    assert list(RequestLog.objects.values_list("status", flat=True)) == [413]


@override_settings(REQUEST_LOG_BATCH_SIZE=1)
def test_paths_outside_the_api_are_not_logged(client):
    assert client.get("/healthz").status_code == 200
    assert RequestLog.objects.count() == 0


@override_settings(REQUEST_LOG_BATCH_SIZE=1)
def test_the_api_key_id_is_logged_from_the_request():
    class Key:
        pk = 77

    def view(request):
        request.api_key = Key()
        return HttpResponse(status=201)

    request = RequestFactory().post("/api/v1/purchases/data", REMOTE_ADDR="192.0.2.1")
    request.request_id = "rid"
    response = RequestLogMiddleware(view)(request)
    assert response.status_code == 201
    row = RequestLog.objects.get()
    assert (row.method, row.status, row.api_key_id, row.user_id, row.ip) == ("POST", 201, 77, None, "192.0.2.1")


@override_settings(REQUEST_LOG_BATCH_SIZE=1)
def test_a_failing_log_write_does_not_break_the_request(api_client, user, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(RequestLog.objects, "bulk_create", broken)
    authenticate(api_client, user)
    assert api_client.get("/api/v1/auth/me").status_code == 200
    assert request_log.buffered_count() == 0
    monkeypatch.undo()
    assert RequestLog.objects.count() == 0  # the rows were dropped, not written


@override_settings(REQUEST_LOG_ENABLED=False)
def test_the_log_can_be_switched_off(api_client):
    api_client.get("/api/v1/auth/me")
    assert RequestLog.objects.count() == 0
