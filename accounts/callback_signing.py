"""Signing secrets of reseller callback endpoints: made, kept, used.

Signature (what a reseller checks, docs/callbacks.md):

    X-VTU-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

The timestamp is inside the signed message, so a captured delivery cannot be replayed later
with a fresh time; receivers refuse a `t` older than a few minutes.

At rest: the secret is a *shared* secret (we must read it back to sign every attempt), so a
hash will not do. It is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from SECRET_KEY by HKDF; SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY with the
old value in the fallbacks keeps every endpoint working. A database dump alone reveals no
secret. Dropping the old SECRET_KEY without a fallback makes every endpoint's secret
unreadable: its deliveries then fail and the reseller must create the endpoint again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SIGNATURE_HEADER = "X-VTU-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker, not a secret; config/logs.py masks whsec_...
_ALPHABET = string.ascii_letters + string.digits
_HKDF_INFO = b"vtu.accounts.callback-endpoint-secret.v1"


def secret_generate() -> str:
    return SECRET_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def secret_hint(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 4] + "…"


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    """Raises cryptography.fernet.InvalidToken when no current or fallback key opens it."""
    return _fernet().decrypt(token.encode()).decode()


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_verify(*, secret: str, header: str, body: bytes, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """What a receiver does (the reference implementation for docs/callbacks.md): parse
    `t` and every `v1`, refuse a stale `t`, compare in constant time."""
    timestamp = None
    candidates = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).split(",v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
