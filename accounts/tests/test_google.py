"""Sign in with Google against a locally generated key pair (no network)."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from accounts.models import User
from accounts.tests.factories import UserFactory
from audit.models import AuditLog

CLIENT_ID = "test-client.apps.googleusercontent.com"
CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def signing_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test google")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(autouse=True)
def _google(settings, signing_key):
    settings.GOOGLE_OAUTH_CLIENT_IDS = [CLIENT_ID]
    settings.GOOGLE_CERTS_URL = CERTS_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(CERTS_URL, json={"kid-1": signing_key[1]})
        yield


def _token(signing_key, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "google-sub-1",
        "email": "ada@example.com", "email_verified": True, "iat": now, "exp": now + 600,
        "given_name": "Ada", "family_name": "Lovelace",
    }
    claims.update(overrides)
    key = overrides.pop("_key", signing_key[0]) if "_key" in overrides else signing_key[0]
    claims.pop("_key", None)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "kid-1"})


def _post(client, token):
    return client.post("/api/v1/auth/google", {"id_token": token}, format="json")


def test_new_verified_google_user_is_created_and_logged_in(api_client, signing_key):
    response = _post(api_client, _token(signing_key))
    assert response.status_code == 200, response.content
    assert {"access", "refresh"} <= set(response.json())
    user = User.objects.get(email="ada@example.com")
    assert user.google_sub == "google-sub-1" and user.email_verified and not user.has_usable_password()
    assert AuditLog.objects.filter(action="user.google_link", target_id=str(user.pk)).exists()


def test_existing_account_is_linked_only_when_google_verified_the_email(api_client, signing_key):
    existing = UserFactory(email="ada@example.com")
    refused = _post(api_client, _token(signing_key, email_verified=False))
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "GOOGLE_TOKEN_INVALID"
    existing.refresh_from_db()
    assert existing.google_sub is None
    assert _post(api_client, _token(signing_key)).status_code == 200
    existing.refresh_from_db()
    assert existing.google_sub == "google-sub-1"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else.apps.googleusercontent.com"},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
)
def test_bad_audience_issuer_or_expiry_is_refused(api_client, signing_key, overrides):
    response = _post(api_client, _token(signing_key, **overrides))
    assert response.status_code == 401
    assert response.json()["error_code"] == "GOOGLE_TOKEN_INVALID"
    assert not User.objects.exists()


def test_token_signed_by_another_key_is_refused(api_client, signing_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = _post(api_client, _token(signing_key, _key=other))
    assert response.status_code == 401
    assert not User.objects.exists()


def test_staff_with_two_factor_get_no_tokens_from_google(api_client, signing_key):
    """Their tokens are issued only against the TOTP code (POST /api/v1/auth/login with `otp`)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    staff = UserFactory(email="ada@example.com", is_staff=True, google_sub="google-sub-1")
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    response = _post(api_client, _token(signing_key))
    assert response.status_code == 403 and response.json()["error_code"] == "OTP_REQUIRED"
    assert "access" not in response.json() and not OutstandingToken.objects.filter(user=staff).exists()


def test_linking_an_unverified_account_voids_what_its_registrant_set(api_client, signing_key, settings):
    """Pre-account hijacking: someone registers the victim's address with their own password
    and never verifies it; when the victim signs in with Google, the registrant's password,
    sessions, PIN, API keys and callback URLs must stop working."""
    from accounts.api_keys import api_key_create
    from accounts.models import APIKey, CallbackEndpoint
    from conftest import authenticate

    settings.REQUIRE_VERIFIED_EMAIL = False  # the strongest position for the registrant: logged in
    attacker_password = "attacker-pass-77"
    registered = api_client.post(
        "/api/v1/auth/register", {"email": "ada@example.com", "password": attacker_password}, format="json"
    )
    assert registered.status_code == 201
    held = User.objects.get(email="ada@example.com")
    tokens = api_client.post(
        "/api/v1/auth/login", {"email": "ada@example.com", "password": attacker_password}, format="json"
    ).json()
    assert authenticate(api_client, held).post("/api/v1/auth/pin", {"pin": "2468"}, format="json").status_code == 200
    api_client.credentials()
    key = api_key_create(user=held, name="mine", scopes=["read"])
    CallbackEndpoint.objects.create(user=held, url="https://attacker.example/cb", events=["purchase.failed"],
                                    secret_encrypted="x")

    linked = _post(api_client, _token(signing_key))
    assert linked.status_code == 200, linked.content

    settings.REQUIRE_VERIFIED_EMAIL = True
    login = api_client.post(
        "/api/v1/auth/login", {"email": "ada@example.com", "password": attacker_password}, format="json"
    )
    assert login.status_code == 401
    assert login.json()["error_code"] == "INVALID_CREDENTIALS"
    refreshed = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    assert refreshed.json()["error_code"] == "TOKEN_INVALID"
    held.refresh_from_db()
    assert held.google_sub == "google-sub-1" and held.email_verified
    assert not held.has_usable_password() and not held.pin_set
    assert APIKey.objects.get(pk=key.api_key.pk).revoked_at is not None
    assert not CallbackEndpoint.objects.filter(user=held, deleted_at__isnull=True).exists()
    link = AuditLog.objects.get(action="user.google_link", target_id=str(held.pk))
    assert link.changes["unverified_holder_voided"] == [None, True]
    # The owner, now in via Google, can set a password of their own by the reset e-mail.
    assert api_client.post("/api/v1/auth/google", {"id_token": _token(signing_key)}, format="json").status_code == 200


def test_linking_a_verified_account_keeps_its_password(api_client, signing_key):
    from accounts.tests.factories import PASSWORD

    existing = UserFactory(email="ada@example.com")
    assert _post(api_client, _token(signing_key)).status_code == 200
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD) and existing.pin_set
