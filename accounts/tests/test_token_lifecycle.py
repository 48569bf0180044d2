"""Expired e-mail tokens, and log-out with a token that is not the caller's refresh token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail, signing
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import tokens
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditLog
from conftest import authenticate

pytestmark = pytest.mark.django_db


def test_an_expired_verification_token_is_refused(api_client, settings, monkeypatch):
    user = UserFactory(email_verified_at=None)
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - settings.EMAIL_TOKEN_MAX_AGE_HOURS * 3600 - 60)
    token = tokens.email_verification_token(user)
    monkeypatch.undo()
    response = api_client.post("/api/v1/auth/verify-email", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_TOKEN"
    assert User.objects.get(pk=user.pk).email_verified_at is None
    assert not AuditLog.objects.filter(action="user.email_verify").exists()


def test_an_expired_reset_token_is_refused(api_client, settings, monkeypatch):
    user = UserFactory()
    generator = tokens.reset_token_generator
    issued_at = generator._now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(generator, "_now", lambda: issued_at)
    token = tokens.password_reset_token(user)
    monkeypatch.undo()
    response = api_client.post(
        "/api/v1/auth/reset-password", {"token": token, "new_password": "brand-new-pass-1"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_TOKEN"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action="user.password_reset").exists()


def test_a_fresh_reset_token_from_the_same_generator_works(api_client):
    """The control for the test above: only the age differs."""
    user = UserFactory()
    token = tokens.password_reset_token(user)
    response = api_client.post(
        "/api/v1/auth/reset-password", {"token": token, "new_password": "brand-new-pass-1"}, format="json"
    )
    assert response.status_code == 200
    assert mail.outbox == []  # no e-mail: the token was made directly


def test_logout_with_someone_elses_refresh_token_is_refused_and_blacklists_nothing():
    caller, other = UserFactory(), UserFactory()
    others_refresh = str(RefreshToken.for_user(other))
    response = authenticate(APIClient(), caller).post("/api/v1/auth/logout", {"refresh": others_refresh}, format="json")
    assert response.status_code == 401
    assert response.json()["error_code"] == "TOKEN_INVALID"
    assert not BlacklistedToken.objects.exists()
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": others_refresh}, format="json").status_code == 200


def test_logout_with_an_access_token_instead_of_a_refresh_token_is_refused():
    user = UserFactory()
    refresh = RefreshToken.for_user(user)
    response = authenticate(APIClient(), user).post(
        "/api/v1/auth/logout", {"refresh": str(refresh.access_token)}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error_code"] == "TOKEN_INVALID"
    assert not BlacklistedToken.objects.exists()
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": str(refresh)}, format="json").status_code == 200
