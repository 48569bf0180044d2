"""The JWT pair a login hands out, and what a staff member's pair carries on top.

A customer's pair is simplejwt's: an access token of JWT_ACCESS_MINUTES and a refresh token of
JWT_REFRESH_DAYS, rotated (and the old one blacklisted) on every refresh.

A staff member's pair is a staff session, held to the same rules as the console's
(backoffice/otp.py), because the staff API (/api/v1/admin/) moves money too:

- `staff_until` (epoch seconds) = login time + STAFF_SESSION_AGE_MINUTES. No token of the
  pair, nor any refresh token rotated from it, nor any access token made from those, expires
  later: rotation would otherwise stretch a staff session to JWT_REFRESH_DAYS. The staff API
  refuses a staff member's token without the claim (one issued before they became staff).
- `otp`: true when the login gave a valid TOTP code. Access tokens copy it and rotation keeps
  it; the staff API refuses a token without it when two-factor applies to the user.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

STAFF_UNTIL = "staff_until"
OTP_VERIFIED = "otp"


def _cap(token: Token) -> None:
    until = token.payload.get(STAFF_UNTIL)
    if until is not None and token.payload.get("exp", 0) > until:
        token.payload["exp"] = int(until)


class SessionRefreshToken(RefreshToken):
    """A refresh token whose expiry, and that of every access token made from it, stops at
    `staff_until` when the token carries it."""

    def set_exp(self, claim: str = "exp", from_time: Any = None, lifetime: timedelta | None = None) -> None:
        super().set_exp(claim, from_time, lifetime)  # rotation calls this: it must not outrun the session
        _cap(self)

    @property
    def access_token(self) -> AccessToken:
        access = super().access_token  # copies staff_until and otp
        _cap(access)
        return access


class SessionRefreshSerializer(TokenRefreshSerializer):
    token_class = SessionRefreshToken


def token_pair(user: Any, *, otp_verified: bool = False) -> dict[str, str]:
    """{"access", "refresh"} for `user`; a staff member's pair is a staff session (above)."""
    refresh = SessionRefreshToken.for_user(user)
    if user.is_staff:
        started = int(refresh.current_time.timestamp())
        refresh[STAFF_UNTIL] = started + settings.STAFF_SESSION_AGE_MINUTES * 60
        refresh[OTP_VERIFIED] = otp_verified
        refresh.set_exp()
        # for_user recorded the token before these claims: keep the outstanding row exact.
        OutstandingToken.objects.filter(jti=refresh[api_settings.JTI_CLAIM]).update(
            token=str(refresh), expires_at=datetime_from_epoch(refresh["exp"])
        )
    return {"access": str(refresh.access_token), "refresh": str(refresh)}
