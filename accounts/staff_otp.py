"""Staff two-factor rules (TOTP, django-otp), one set for both doors: the console login
(backoffice/forms.py, backoffice/otp.py) and the API login with the staff API behind it.

- A staff member with a confirmed TOTP device must give a code at every login.
- With STAFF_2FA_REQUIRED on, superusers and members of the "admin" staff group must have a
  device: without one the login is refused with how to enrol (a password alone never lets
  them in, so a stolen password cannot enrol the thief's phone).
- At the API, POST /api/v1/auth/login takes the code as `otp` (ApiSecondFactor); a staff
  member's JWT pair records that it was given and when the staff session ends
  (accounts/session_tokens.py), and `api_token_check` (called by config.api.permissions.IsStaff
  for every staff endpoint) refuses a staff token that lacks either.

Here in accounts (layer 1: identity), not in the back office, because the login view and the
staff permission class apply them and no lower layer may import the back office.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, match_token

from accounts.session_tokens import OTP_VERIFIED, STAFF_UNTIL
from audit.services import Actor, audit_record
from config.errors import ApiError

ADMIN_GROUP = "admin"  # backoffice.roles.ADMIN (a test asserts they agree)
ENROL_HINT = (
    "Two-factor authentication is required for this account and none is set up: "
    "ask an operator to run manage.py staff_otp_enrol <your e-mail>."
)


def two_factor_required(user: Any) -> bool:
    if not settings.STAFF_2FA_REQUIRED:
        return False
    return bool(user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists())


def has_device(user: Any) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def token_match(user: Any, token: str) -> Any:
    """The confirmed device that accepts `token` (throttled by django-otp), or None."""
    token = "".join(token.split())
    if not token.isdigit():
        return None
    return match_token(user, token)


def needs_verification(user: Any) -> bool:
    return has_device(user) or two_factor_required(user)


@dataclass
class ApiSecondFactor:
    """The API login's second factor, called by accounts.services.user_login after the
    password. For a staff member who needs one (`needs_verification`) the code must match a
    confirmed device, else 403 OTP_REQUIRED (none sent, or none enrolled) or 401 OTP_INVALID
    (counted as a failed login). `verified` then goes into the JWT pair."""

    code: str = ""
    verified: bool = False

    def __call__(self, user: Any) -> None:
        if not user.is_staff or not needs_verification(user):
            return  # customers (and staff without two-factor) log in with the password alone
        if not has_device(user):
            raise ApiError(code="OTP_REQUIRED", detail=ENROL_HINT)
        if not self.code.strip():
            raise ApiError(code="OTP_REQUIRED", detail="Send `otp`: the 6-digit code from your authenticator app.")
        if token_match(user, self.code) is None:  # django-otp throttles repeated failures per device
            raise ApiError(code="OTP_INVALID")
        self.verified = True


def api_token_check(user: Any, token: Any) -> None:
    """Refuse a staff member's JWT that is not of a staff session (issued before they became
    staff: 401 TOKEN_INVALID) or lacks the second factor two-factor asks of them (403
    OTP_REQUIRED). The session's end is the token's own expiry."""
    if token is None or token.get(STAFF_UNTIL) is None:
        raise ApiError(code="TOKEN_INVALID", detail="This token is not of a staff login; log in again.")
    if not token.get(OTP_VERIFIED) and needs_verification(user):
        raise ApiError(code="OTP_REQUIRED")


def staff_login_record(*, user: Any, second_factor: bool, channel: str) -> None:
    """One audit row per staff login, at the console ("console"; the login itself is
    Django's) or the API ("api")."""
    with transaction.atomic():
        audit_record(
            action="staff.login", actor=Actor.for_user(user), target=user,
            changes={"second_factor": [None, second_factor], "channel": [None, channel]},
        )
