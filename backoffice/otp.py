"""The console's side of staff two-factor login and its session expiry.

The two-factor rules themselves (who needs a code, checking one, the API login and the staff
API's token check) are accounts/staff_otp.py, shared with the API; re-exported here because
the console's forms and pages use them as `otp.*`.

- A staff member already in the console can enrol on the "Two-factor" page (an unconfirmed
  device confirmed by its first code); `manage.py staff_otp_enrol <email>` enrols from the shell.
- A console session lasts STAFF_SESSION_AGE_MINUTES from its login, however busy (the cookie
  age alone would slide with every save); the API's staff tokens end likewise
  (accounts/session_tokens.py).
"""

from __future__ import annotations

import io
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.staff_otp import has_device, needs_verification, token_match, two_factor_required

__all__ = ["has_device", "needs_verification", "token_match", "two_factor_required"]

SESSION_LOGIN_AT = "staff_login_at"
ENROL_DEVICE_NAME = "Authenticator app"


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
