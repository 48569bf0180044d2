"""Refusals at start-up: with DEBUG off the process does not start on an unsafe setting.

Runs from PlatformConfig.ready(), so gunicorn, Celery workers, beat and every manage.py
command refuse alike. One general check covers every integration declared in settings
(PAYMENT_GATEWAYS, VTU_PROVIDERS): a sandbox entry enabled, an enabled entry with an
empty secret among its REQUIRED keys, or an entry switched on by <NAME>_ENABLED=true that
cannot be enabled. New adapters plug in by declaring their settings entry.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def integration_problems() -> list[str]:
    problems: list[str] = []
    for group in ("PAYMENT_GATEWAYS", "VTU_PROVIDERS"):
        for name, entry in getattr(settings, group, {}).items():
            problems.extend(_entry_problems(f"{group}[{name}]", entry))
    return problems


def _entry_problems(label: str, entry: dict) -> list[str]:
    """An enabled entry must be complete; one switched on explicitly (<NAME>_ENABLED=true)
    must be enabled: a typo'd or forgotten secret would otherwise turn it off without a word."""
    problems: list[str] = []
    missing = [key for key in entry.get("REQUIRED", []) if not entry.get(key)]
    if entry.get("ENABLED"):
        if entry.get("SANDBOX"):
            problems.append(f"{label} is a sandbox and cannot be enabled with DEBUG off")
        if missing:
            problems.append(f"{label} is enabled but {', '.join(missing)} is empty")
    elif entry.get("ENABLED_SETTING") is True and not entry.get("SANDBOX"):
        why = f"{', '.join(missing)} is empty" if missing else "its currency is not the wallet's"
        problems.append(f"{label} is switched on ({entry['NAME'].upper()}_ENABLED=true) but {why}")
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
