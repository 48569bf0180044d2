"""Staff two-factor login (TOTP, django-otp) and staff session expiry.

Rules:
- A staff member with a confirmed TOTP device must give a code at every admin login.
- With STAFF_2FA_REQUIRED on, superusers and members of the "admin" group must have a
  device: without one the login is refused with a message saying how to enrol (a password
  alone never opens the console for them, so a stolen password cannot enrol the thief's
  phone). `manage.py staff_otp_enrol <email>` enrols; staff already in the console can enrol
  themselves on the "Two-factor" page.
- A staff session lasts STAFF_SESSION_AGE_MINUTES from its login, however busy (the cookie
  age alone would slide with every save).
"""

from __future__ import annotations

import io
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.roles import ADMIN

SESSION_LOGIN_AT = "staff_login_at"
ENROL_DEVICE_NAME = "Authenticator app"


def two_factor_required(user: Any) -> bool:
    if not settings.STAFF_2FA_REQUIRED:
        return False
    return bool(user.is_superuser or user.groups.filter(name=ADMIN).exists())


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


def session_fresh(request: HttpRequest) -> bool:
    """False once the session is older than STAFF_SESSION_AGE_MINUTES since its login. A
    session without a login time (made by another login path) starts its clock now."""
    started = request.session.setdefault(SESSION_LOGIN_AT, int(time.time()))
    return time.time() - started < settings.STAFF_SESSION_AGE_MINUTES * 60


def staff_access_ok(request: HttpRequest) -> bool:
    """Called after Django's own check (active staff). Logs a stale session out."""
    if not session_fresh(request):
        logout(request)
        return False
    user = request.user
    if needs_verification(user):
        return bool(getattr(user, "is_verified", lambda: False)())
    return True


def mark_login(request: HttpRequest) -> None:
    request.session[SESSION_LOGIN_AT] = int(time.time())


def enrolment_device(user: Any) -> TOTPDevice:
    """The user's unconfirmed device waiting for its first code, made if missing."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=ENROL_DEVICE_NAME, confirmed=False)


def qr_svg(data: str) -> str:
    """The QR code of `data` as an SVG document (no raster library needed)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()
