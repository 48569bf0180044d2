"""Every error leaves in the envelope, with a registered code and the right status."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def _assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"detail", "error_code", "errors"}
    assert body["error_code"] == code
    return body


def test_unknown_path_is_404_envelope(api_client):
    _assert_envelope(api_client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405_envelope(user_client):
    _assert_envelope(user_client.delete("/api/v1/auth/me"), 405, "METHOD_NOT_ALLOWED")


def test_unauthenticated_is_401_envelope(api_client):
    response = api_client.get("/api/v1/auth/me")
    _assert_envelope(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_json_is_400(user_client):
    response = user_client.post("/api/v1/test/echo", data="{not json", content_type="application/json")
    _assert_envelope(response, 400, "MALFORMED_JSON")


def test_wrong_content_type_is_415(user_client):
    response = user_client.post("/api/v1/test/echo", data="amount=5", content_type="application/x-www-form-urlencoded")
    _assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@override_settings(API_MAX_BODY_BYTES=100)
def test_oversized_body_is_413(user_client):
    body = json.dumps({"amount": 1, "pad": "x" * 200})
    _assert_envelope(user_client.post("/api/v1/test/echo", data=body, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")


def test_validation_error_has_field_errors(user_client):
    body = _assert_envelope(user_client.post("/api/v1/test/echo", {"amount": "500"}, format="json"), 400, "INVALID_AMOUNT")
    assert "amount" in body["errors"]
    for bad in (0, -5, 1.5, True, 10**15, None):
        _assert_envelope(user_client.post("/api/v1/test/echo", {"amount": bad}, format="json"), 400, "INVALID_AMOUNT")


def test_unhandled_error_is_500_with_error_id_and_no_traceback(api_client, log_output):
    response = api_client.get("/api/v1/test/crash")
    body = _assert_envelope(response, 500, "INTERNAL_ERROR")
    assert len(body["error_id"]) == 32
    assert "Traceback" not in response.content.decode()
    assert "sk_test_canary" not in response.content.decode()
    logged = log_output.getvalue()
    assert body["error_id"] in logged
    assert "sk_test_canarycanary123" not in logged


def test_request_id_is_accepted_echoed_and_logged(api_client, log_output):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.def")
    assert response["X-Request-ID"] == "abc-123.def"
    assert '"request_id": "abc-123.def"' in log_output.getvalue()
    generated = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert len(generated["X-Request-ID"]) == 32


def test_throttled_is_429_with_retry_after(api_client, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], login_ip="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(2):
        api_client.post("/api/v1/auth/login", {"email": "x@example.com", "password": "nope-nope"}, format="json")
    response = api_client.post("/api/v1/auth/login", {"email": "x@example.com", "password": "nope-nope"}, format="json")
    _assert_envelope(response, 429, "THROTTLED")
    assert int(response["Retry-After"]) >= 1


def test_login_is_throttled_per_email_across_ips(settings):
    from rest_framework.test import APIClient

    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], login_email="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    body = {"email": "Target@Example.com", "password": "nope-nope"}
    for ip in ("10.1.0.1", "10.1.0.2"):
        APIClient(REMOTE_ADDR=ip).post("/api/v1/auth/login", body, format="json")
    third = APIClient(REMOTE_ADDR="10.1.0.3").post(
        "/api/v1/auth/login", {**body, "email": "target@example.com"}, format="json"
    )
    _assert_envelope(third, 429, "THROTTLED")
    other = APIClient(REMOTE_ADDR="10.1.0.3").post("/api/v1/auth/login", {**body, "email": "x@example.com"}, format="json")
    assert other.status_code == 401


def test_register_is_throttled_per_ip(api_client, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], register="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    api_client.post("/api/v1/auth/register", {"email": "a1@example.com", "password": "a-long-pass-77"}, format="json")
    second = api_client.post("/api/v1/auth/register", {"email": "a2@example.com", "password": "a-long-pass-77"}, format="json")
    _assert_envelope(second, 429, "THROTTLED")
    from accounts.models import User

    assert list(User.objects.values_list("email", flat=True)) == ["a1@example.com"]
