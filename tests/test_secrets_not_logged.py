"""Canary values pushed through every sensitive path never appear in the logs."""

from __future__ import annotations

import logging
import re

import pytest
from django.core import mail

from accounts.tests.factories import PASSWORD, UserFactory
from conftest import authenticate

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

CANARY_PASSWORD = "canary-Password-7781"
CANARY_PIN = "8642"
CANARY_GOOGLE = "eyJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJnb29nbGUifQ.c2lnbmF0dXJlY2FuYXJ5"
CANARY_API_KEY = "vtu_live_canarykey1234567890"
CANARY_BEARER = "Bearer canarybearertoken123456"


@pytest.fixture
def debug_logging():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.setLevel(level)


def test_canaries_never_reach_the_logs(api_client, log_output, debug_logging, settings):
    settings.GOOGLE_OAUTH_CLIENT_IDS = ["x.apps.googleusercontent.com"]
    user = UserFactory()
    # login with a wrong password, then the right one
    api_client.post("/api/v1/auth/login", {"email": user.email, "password": CANARY_PASSWORD}, format="json")
    tokens = api_client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    # password reset: the token from the e-mail and the new password
    api_client.post("/api/v1/auth/forgot-password", {"email": user.email}, format="json")
    reset_token = re.search(r'"token": "([^"]+)"', mail.outbox[-1].body).group(1)
    api_client.post("/api/v1/auth/reset-password", {"token": reset_token, "new_password": CANARY_PASSWORD}, format="json")
    # PIN set and a wrong PIN
    client = authenticate(api_client, user)
    client.post("/api/v1/auth/pin", {"pin": CANARY_PIN, "password": CANARY_PASSWORD}, format="json")
    client.post("/api/v1/auth/pin", {"pin": "1111", "current_pin": "0000"}, format="json")
    # Google ID token (fails verification: no network)
    api_client.post("/api/v1/auth/google", {"id_token": CANARY_GOOGLE}, format="json")
    # secrets in request headers, and an unhandled error carrying one
    api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=CANARY_BEARER, HTTP_X_API_KEY=CANARY_API_KEY)
    api_client.get("/api/v1/test/crash", HTTP_AUTHORIZATION=CANARY_BEARER)

    logged = log_output.getvalue()
    assert "unhandled_error" in logged  # the capture works
    # A 4-digit PIN can occur inside timestamps; look for it as a value, quoted or assigned.
    for form in (f'"{CANARY_PIN}"', f"'{CANARY_PIN}'", f"={CANARY_PIN}"):
        assert form not in logged
    for canary in (CANARY_PASSWORD, CANARY_GOOGLE, CANARY_API_KEY, "canarybearertoken123456",
                   reset_token, tokens["access"], tokens["refresh"], "sk_test_canarycanary123"):
        assert canary not in logged, canary


def test_request_line_of_an_email_link_has_no_token(client, log_output):
    response = client.get("/reset-password?token=Ng.CANARYTOKEN99&x=1", HTTP_X_REQUEST_ID="link-1")
    assert response.status_code == 200
    logged = log_output.getvalue()
    assert '"path": "/reset-password"' in logged and '"request_id": "link-1"' in logged
    assert "CANARYTOKEN99" not in logged


def test_secret_query_parameters_are_masked_in_any_logged_string():
    from config.logs import mask_string

    masked = mask_string("GET https://p.example/api?user=7&api_key=k-123&access_token=t-456&shipping=9 failed")
    assert "k-123" not in masked and "t-456" not in masked
    assert "user=7" in masked and "shipping=9" in masked and "api_key=[REDACTED]" in masked
