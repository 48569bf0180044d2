"""Throttles on the shared cache (Redis when REDIS_URL is set); every rate comes from env.

Inbound gateway webhooks are plain Django views and never pass through these.
"""

from __future__ import annotations

import hashlib

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings


class LiveRatesMixin:
    """Read the rate when asked, not at import: DRF copies the rates into a class attribute
    at import time, so a changed setting (tests, benchmarks) would otherwise be ignored."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


def _via_api_key(request: Request) -> bool:
    return getattr(request, "api_key", None) is not None


class UserRateThrottle(LiveRatesMixin, throttling.UserRateThrottle):
    """Per authenticated user (JWT); API-key requests are counted per key instead."""

    scope = "user"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not (request.user and request.user.is_authenticated) or _via_api_key(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonRateThrottle(LiveRatesMixin, throttling.AnonRateThrottle):
    scope = "anon"


class APIKeyRateThrottle(LiveRatesMixin, throttling.SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        key = getattr(request, "api_key", None)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}


class IPScopedThrottle(LiveRatesMixin, throttling.SimpleRateThrottle):
    """Per client IP, for unauthenticated endpoints that attract abuse. Set `scope`."""

    def get_cache_key(self, request: Request, view: object) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginIPThrottle(IPScopedThrottle):
    scope = "login_ip"


class LoginEmailThrottle(LiveRatesMixin, throttling.SimpleRateThrottle):
    """Per e-mail address tried, whatever the IP."""

    scope = "login_email"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email:
            return None
        # Hashed: an e-mail field can carry any characters, and raw ones make awkward cache keys.
        digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class RegisterThrottle(IPScopedThrottle):
    scope = "register"


class ForgotPasswordThrottle(IPScopedThrottle):
    scope = "forgot_password"


class EmailActionThrottle(IPScopedThrottle):
    scope = "email_action"
