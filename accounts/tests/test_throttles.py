"""Abuse limits on the account endpoints: forgot-password per IP, the e-mail actions per IP,
and the per-user default. The suite runs with huge rates; each test lowers the one it checks."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from conftest import authenticate

pytestmark = pytest.mark.django_db


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _throttled(response) -> None:
    assert response.status_code == 429
    assert response.json()["error_code"] == "THROTTLED"
    assert int(response["Retry-After"]) > 0


def test_forgot_password_is_limited_per_ip(settings):
    _rates(settings, forgot_password="5/min")
    user = UserFactory()
    client = APIClient(REMOTE_ADDR="10.5.5.5")
    for _ in range(5):
        assert client.post("/api/v1/auth/forgot-password", {"email": user.email}, format="json").status_code == 200
    _throttled(client.post("/api/v1/auth/forgot-password", {"email": user.email}, format="json"))
    assert len(mail.outbox) == 5  # the refused request sent nothing
    other_ip = APIClient(REMOTE_ADDR="10.5.5.6")
    assert other_ip.post("/api/v1/auth/forgot-password", {"email": user.email}, format="json").status_code == 200


def test_email_actions_share_one_limit_per_ip(settings):
    _rates(settings, email_action="2/min")
    unverified = UserFactory(email_verified_at=None)
    client = APIClient(REMOTE_ADDR="10.6.6.6")
    assert client.post("/api/v1/auth/resend-verification", {"email": unverified.email}, format="json").status_code == 200
    assert client.post("/api/v1/auth/verify-email", {"token": "bad"}, format="json").status_code == 400
    _throttled(client.post("/api/v1/auth/reset-password", {"token": "bad", "new_password": "x-long-pass-9"},
                           format="json"))
    _throttled(client.post("/api/v1/auth/resend-verification", {"email": unverified.email}, format="json"))
    assert len(mail.outbox) == 1
    assert APIClient(REMOTE_ADDR="10.6.6.7").post(
        "/api/v1/auth/verify-email", {"token": "bad"}, format="json"
    ).status_code == 400


def test_authenticated_requests_are_limited_per_user(settings):
    _rates(settings, user="3/min")
    first, second = UserFactory(), UserFactory()
    client = authenticate(APIClient(), first)
    for _ in range(3):
        assert client.get("/api/v1/auth/me").status_code == 200
    _throttled(client.get("/api/v1/auth/me"))
    refused = client.patch("/api/v1/auth/me", {"first_name": "Changed"}, format="json")
    _throttled(refused)
    first.refresh_from_db()
    assert first.first_name == "Ade"
    assert authenticate(APIClient(), second).get("/api/v1/auth/me").status_code == 200


def test_default_rates_are_the_documented_ones():
    """Without THROTTLE_* in the environment (the suite's settings raise every rate)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROTTLE_")}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings")
    probe = "from django.conf import settings; print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {probe}"], cwd=Path(__file__).parents[2],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    rates = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert {k: rates[k] for k in ("login_ip", "login_email", "register", "forgot_password", "user")} == {
        "login_ip": "10/min", "login_email": "10/min", "register": "5/min", "forgot_password": "5/min",
        "user": "120/min",
    }
