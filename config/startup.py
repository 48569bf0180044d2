"""Refusals at start-up: with DEBUG off the process does not start on an unsafe setting.

Runs from PlatformConfig.ready(), so gunicorn, Celery workers, beat and every manage.py
command refuse alike. One general check covers every integration declared in settings
(PAYMENT_GATEWAYS, VTU_PROVIDERS): a sandbox entry enabled, or an enabled entry with an
empty secret among its REQUIRED keys. New adapters plug in by declaring their settings entry.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def integration_problems() -> list[str]:
    problems: list[str] = []
    for group in ("PAYMENT_GATEWAYS", "VTU_PROVIDERS"):
        for name, entry in getattr(settings, group, {}).items():
            if not entry.get("ENABLED"):
                continue
            if entry.get("SANDBOX"):
                problems.append(f"{group}[{name}] is a sandbox and cannot be enabled with DEBUG off")
            missing = [key for key in entry.get("REQUIRED", []) if not entry.get(key)]
            if missing:
                problems.append(f"{group}[{name}] is enabled but {', '.join(missing)} is empty")
    return problems


def reseller_problems() -> list[str]:
    """The reseller API's settings: a test-only switch left on, or a key left to a fallback."""
    problems: list[str] = []
    if settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES:
        problems.append(
            "CALLBACK_ALLOW_PRIVATE_ADDRESSES is on: reseller callbacks could reach loopback and private "
            "addresses (tests and local development only)"
        )
    # Its own key, not one derived from SECRET_KEY: rotating SECRET_KEY must not change the
    # BVN/NIN digests (the numbers are not kept, so old digests could never be recomputed).
    key = settings.KYC_IDENTITY_HMAC_KEY
    if not key or len(key) < 32 or key == settings.SECRET_KEY:
        problems.append("KYC_IDENTITY_HMAC_KEY is missing, shorter than 32 characters, or the SECRET_KEY")
    return problems


def production_problems() -> list[str]:
    problems: list[str] = []
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY or len(settings.SECRET_KEY) < 32:
        problems.append("SECRET_KEY is missing, the default, or shorter than 32 characters")
    if not settings.PIN_PEPPER or len(settings.PIN_PEPPER) < 16:
        problems.append("PIN_PEPPER is missing or shorter than 16 characters")
    problems.extend(integration_problems())
    problems.extend(reseller_problems())
    return problems


def check_or_refuse() -> None:
    if settings.DEBUG:
        return
    problems = production_problems()
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off: " + "; ".join(problems))
