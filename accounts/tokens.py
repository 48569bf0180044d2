"""Signed, single-use, expiring tokens for e-mail verification and password reset.

Verification: signed {user id, e-mail, state}; the state is the verification time, so once
used the token no longer matches (single use), and a changed e-mail voids it.
Reset: Django's PasswordResetTokenGenerator, whose hash covers the password hash and last
login, so it dies as soon as the password changes; expiry is PASSWORD_RESET_TIMEOUT.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.errors import InvalidToken
from accounts.models import User

_VERIFY_SALT = "accounts.email-verify"


def _verify_state(user: User) -> str:
    return user.email_verified_at.isoformat() if user.email_verified_at else "unverified"


def email_verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email, "s": _verify_state(user)}, salt=_VERIFY_SALT)


def user_from_verification_token(token: str) -> User:
    try:
        data = signing.loads(token, salt=_VERIFY_SALT, max_age=settings.EMAIL_TOKEN_MAX_AGE_HOURS * 3600)
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise InvalidToken() from exc
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None or _verify_state(user) != data.get("s"):
        raise InvalidToken()
    return user


class _ResetTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.password-reset"


reset_token_generator = _ResetTokenGenerator()


def password_reset_token(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"{uid}.{reset_token_generator.make_token(user)}"


def user_from_reset_token(token: str, *, lock: bool = False) -> User:
    """The user a reset token is for, or InvalidToken. With `lock` (inside a transaction) the
    user row is locked before the token is checked: a second use of the same token waits for
    the first to commit, then sees the changed password hash and is refused (single use)."""
    uid_part, _, token_part = (token or "").partition(".")
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid_part)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidToken() from exc
    users = User.objects.select_for_update() if lock else User.objects
    user = users.filter(pk=user_id, is_active=True).first()
    if user is None or not reset_token_generator.check_token(user, token_part):
        raise InvalidToken()
    return user
