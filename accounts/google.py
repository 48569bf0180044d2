"""Sign in with Google: verify the ID token with google-auth, then log in or create.

The token's signature is checked against Google's published keys (GOOGLE_CERTS_URL), with
audience (GOOGLE_OAUTH_CLIENT_IDS), issuer and expiry. An existing account is linked only
when Google says the e-mail is verified; otherwise anyone could claim a victim's address.
Linking an account whose e-mail was never verified voids what its registrant set (password,
PIN, refresh tokens, API keys, callback URLs): it may be someone squatting on the address.
"""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import requests
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from google.oauth2 import id_token

from accounts.api_keys import api_key_revoke
from accounts.callback_endpoints import callback_endpoint_delete
from accounts.errors import GoogleTokenInvalid
from accounts.models import APIKey, CallbackEndpoint, User
from accounts.services import refresh_tokens_revoke_all
from audit.services import Actor, audit_record

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


def _session() -> requests.Session:
    session = requests.Session()
    session.request = _with_timeout(session.request)  # type: ignore[method-assign]
    return session


def _with_timeout(request: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = (5, 10)  # google-auth passes 120 s by default
        return request(*args, **kwargs)

    return wrapped


def google_claims(raw_token: str) -> dict[str, Any]:
    if not settings.GOOGLE_OAUTH_CLIENT_IDS:
        raise GoogleTokenInvalid("Google sign-in is not configured.")
    transport = google.auth.transport.requests.Request(session=_session())
    try:
        claims = id_token.verify_token(
            raw_token,
            transport,
            audience=settings.GOOGLE_OAUTH_CLIENT_IDS,
            certs_url=settings.GOOGLE_CERTS_URL,
            clock_skew_in_seconds=10,
        )
    except Exception as exc:
        raise GoogleTokenInvalid() from exc
    if claims.get("iss") not in GOOGLE_ISSUERS or not claims.get("sub") or not claims.get("email"):
        raise GoogleTokenInvalid()
    return claims


def google_login(*, raw_token: str) -> User:
    """Log in, create, or link the account with the e-mail Google verified.

    Locks: the matching user row. Raises GOOGLE_TOKEN_INVALID (bad token, e-mail not verified
    by Google, linked to another Google account, deactivated)."""
    claims = google_claims(raw_token)
    if claims.get("email_verified") is not True:
        raise GoogleTokenInvalid("Google has not verified this e-mail address.")
    email = claims["email"].strip().lower()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(google_sub=claims["sub"]).first()
        if user is None:
            user = User.objects.select_for_update().filter(email__iexact=email).first()
        changes: dict[str, list[Any]] = {"created": [None, user is None]}
        if user is None:
            user = _create(claims, email)
        elif user.google_sub not in (None, claims["sub"]):
            raise GoogleTokenInvalid("This e-mail is linked to another Google account.")
        else:
            changes.update(_link(user, claims["sub"]))
        audit_record(action="user.google_link", actor=Actor.for_user(user), target=user, changes=changes)
    user.refresh_from_db()
    if not user.is_active:
        raise GoogleTokenInvalid("This account is deactivated.")
    return user


def _create(claims: dict[str, Any], email: str) -> User:
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email,
                password=None,
                first_name=claims.get("given_name", "")[:80],
                last_name=claims.get("family_name", "")[:80],
                google_sub=claims["sub"],
                email_verified_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise GoogleTokenInvalid("This Google account is linked to another user.") from exc


def _link(user: User, sub: str) -> dict[str, list[Any]]:
    """Link `user` to the Google account; the caller holds the user row's lock.

    An account whose e-mail was never verified may have been registered by someone else
    (pre-account hijacking): the real owner of the address only proves it now. Everything the
    unverified holder could have set is voided, so the password, PIN, sessions, API keys and
    callback URLs they chose stop working; the owner sets a password by reset if they want one."""
    fields: dict[str, Any] = {"google_sub": sub}
    if user.email_verified_at is not None:
        User.objects.filter(pk=user.pk).update(**fields)
        return {}
    fields.update(
        email_verified_at=timezone.now(), password=make_password(None),
        pin_hash="", pin_failed_attempts=0, pin_locked_until=None,
    )
    User.objects.filter(pk=user.pk).update(**fields)
    revoked = refresh_tokens_revoke_all(user=user)
    _void_reseller_access(user)
    return {"unverified_holder_voided": [None, True], "refresh_tokens_revoked": [None, revoked]}


def _void_reseller_access(user: User) -> None:
    actor = Actor.system("google_link")
    for key_id in APIKey.objects.filter(user=user, revoked_at__isnull=True).values_list("pk", flat=True):
        api_key_revoke(user=user, key_id=key_id, actor=actor, reason="account claimed by its e-mail's owner")
    for endpoint_id in CallbackEndpoint.objects.filter(user=user, deleted_at__isnull=True).values_list("pk", flat=True):
        callback_endpoint_delete(user=user, endpoint_id=endpoint_id, actor=actor)
