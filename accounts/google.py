"""Sign in with Google: verify the ID token with google-auth, then log in or create.

The token's signature is checked against Google's published keys (GOOGLE_CERTS_URL), with
audience (GOOGLE_OAUTH_CLIENT_IDS), issuer and expiry. An existing account is linked only
when Google says the e-mail is verified; otherwise anyone could claim a victim's address.
"""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from google.oauth2 import id_token

from accounts.errors import GoogleTokenInvalid
from accounts.models import User
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
    claims = google_claims(raw_token)
    if claims.get("email_verified") is not True:
        raise GoogleTokenInvalid("Google has not verified this e-mail address.")
    email = claims["email"].strip().lower()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(google_sub=claims["sub"]).first()
        if user is None:
            user = User.objects.select_for_update().filter(email__iexact=email).first()
        created = user is None
        if created:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        email=email,
                        password=None,
                        first_name=claims.get("given_name", "")[:80],
                        last_name=claims.get("family_name", "")[:80],
                        google_sub=claims["sub"],
                        email_verified_at=timezone.now(),
                    )
            except IntegrityError as exc:
                raise GoogleTokenInvalid("This Google account is linked to another user.") from exc
        elif user.google_sub not in (None, claims["sub"]):
            raise GoogleTokenInvalid("This e-mail is linked to another Google account.")
        else:
            fields = {"google_sub": claims["sub"]}
            if user.email_verified_at is None:
                fields["email_verified_at"] = timezone.now()
            User.objects.filter(pk=user.pk).update(**fields)
        audit_record(
            action="user.google_link", actor=Actor.for_user(user), target=user, changes={"created": [None, created]}
        )
    user.refresh_from_db()
    if not user.is_active:
        raise GoogleTokenInvalid("This account is deactivated.")
    return user
