"""API keys for resellers: issue, check, revoke, roll over, and record use.

A key reads `vtu_<mode>_<lookup>_<secret>` (mode `live` or `test`, lookup 8 and secret 40
letters and digits, ~238 random bits in the secret). The database keeps the *prefix*
(`vtu_<mode>_<lookup>`, unique, shown in lists) and the SHA-256 of the whole key, nothing
else. A fast hash is right here: the secret is random and long, so there is nothing to
brute-force, and every API request checks it (a password hasher would cost ~50 ms each).
config/logs.py masks `vtu_(live|test)_...` wherever it appears in a log line.

Last-used times are not written per request: they go to a Redis hash that
`accounts.tasks.api_key_usage_flush` writes to the database every minute. Without Redis
(`make run` on SQLite) a key's use is written at most once a minute per process instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import APIKey, User
from audit.services import Actor, audit_record, staff_reason
from config.errors import ApiError, InvalidState, NotFound

log = structlog.get_logger("accounts.api_keys")

SCOPES = tuple(APIKey.Scope.values)
_ALPHABET = string.ascii_letters + string.digits
_LOOKUP_LENGTH = 8
_SECRET_LENGTH = 40
_KEY_RE = re.compile(r"^(vtu_(?:live|test)_[A-Za-z0-9]{8})_[A-Za-z0-9]{40}$")
MAX_EXPIRY_DAYS = 730
MAX_ALLOWED_IPS = 20


class APIKeyLimit(ApiError):
    code = "API_KEY_LIMIT"


class APIKeyRejected(Exception):
    """Why a presented key does not authenticate; `code` is a registered error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    plaintext: str  # shown to the caller once, never stored


def key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _mode() -> str:
    mode = settings.API_KEY_MODE or ("test" if settings.DEBUG else "live")
    if mode not in ("live", "test"):
        raise ValueError(f"API_KEY_MODE must be live or test, not {mode!r}")
    return mode


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _new_key_material() -> tuple[str, str]:
    prefix = f"vtu_{_mode()}_{_random(_LOOKUP_LENGTH)}"
    return prefix, f"{prefix}_{_random(_SECRET_LENGTH)}"


def normalize_allowed_ips(values: list[str]) -> list[str]:
    """Each entry an IP or CIDR (host bits allowed); returned in canonical form."""
    if len(values) > MAX_ALLOWED_IPS:
        raise ApiError(code="VALIDATION_ERROR", errors={"allowed_ips": [f"At most {MAX_ALLOWED_IPS} entries."]})
    networks = []
    for value in values:
        try:
            networks.append(str(_unmapped(ipaddress.ip_network(value.strip(), strict=False))))
        except ValueError as exc:
            raise ApiError(
                code="VALIDATION_ERROR", errors={"allowed_ips": [f"{value!r} is not an IP address or CIDR range."]}
            ) from exc
    return sorted(set(networks))


def _unmapped(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """::ffff:10.1.2.0/120 is 10.1.2.0/24: kept in its IPv4 form, which plain IPv4 clients
    match as well as mapped ones (_ip_allowed)."""
    mapped = network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")


def _active(queryset: QuerySet[APIKey], now: datetime) -> QuerySet[APIKey]:
    return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)


def _lock_user(user_id: int) -> None:
    """Serialise key issuing per user, so two parallel requests cannot both pass the
    active-key count (there is no database constraint for "at most N active")."""
    User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True).first()


def _issue(
    *, user_id: int, name: str, scopes: list[str], allowed_ips: list[str], expires_in_days: int | None, now: datetime
) -> IssuedKey:
    days = expires_in_days or settings.API_KEY_DEFAULT_EXPIRY_DAYS
    prefix, plaintext = _new_key_material()
    api_key = APIKey.objects.create(
        user_id=user_id,
        name=name,
        prefix=prefix,
        secret_hash=key_digest(plaintext),
        scopes=[scope for scope in SCOPES if scope in set(scopes)],
        allowed_ips=allowed_ips,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return IssuedKey(api_key=api_key, plaintext=plaintext)


def _check_limit(user_id: int, now: datetime) -> None:
    if _active(APIKey.objects.filter(user_id=user_id), now).count() >= settings.API_KEY_MAX_ACTIVE:
        raise APIKeyLimit(f"At most {settings.API_KEY_MAX_ACTIVE} active API keys per user; revoke one first.")


def _validate(*, name: str, scopes: list[str], expires_in_days: int | None) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["A name is required."]
    if not scopes or any(scope not in SCOPES for scope in scopes):
        errors["scopes"] = [f"One or more of: {', '.join(SCOPES)}."]
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        errors["expires_in"] = [f"Between 1 and {MAX_EXPIRY_DAYS} days."]
    if errors:
        raise ApiError(code="VALIDATION_ERROR", detail="Invalid input.", errors=errors)


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
    allowed_ips: list[str] | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    """Issue a key. Locks the user row (the active-key count); raises VALIDATION_ERROR,
    API_KEY_LIMIT. The plaintext is in the result only."""
    _validate(name=name, scopes=scopes, expires_in_days=expires_in_days)
    ips = normalize_allowed_ips(allowed_ips or [])
    now = now or timezone.now()
    with transaction.atomic():
        _lock_user(user.pk)
        _check_limit(user.pk, now)
        issued = _issue(
            user_id=user.pk, name=name.strip(), scopes=scopes, allowed_ips=ips, expires_in_days=expires_in_days, now=now
        )
        audit_record(
            action="api_key.create",
            actor=actor or Actor.for_user(user),
            target=issued.api_key,
            changes={
                "prefix": [None, issued.api_key.prefix],
                "scopes": [None, issued.api_key.scopes],
                "allowed_ips": [None, ips],
                "expires_at": [None, issued.api_key.expires_at.isoformat()],
            },
        )
    return issued


def api_key_get_for_user(*, user: User, key_id: int) -> APIKey:
    api_key = APIKey.objects.filter(pk=key_id, user=user).first()
    if api_key is None:
        raise NotFound("No such API key.")
    return api_key


def api_key_list_for_user(*, user: User) -> QuerySet[APIKey]:
    return APIKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_revoke(*, user: User, key_id: int, actor: Actor | None = None, reason: str = "") -> APIKey:
    """Revoke at once (the next request with it answers API_KEY_REVOKED). Revoking a revoked
    key returns it unchanged. Conditional update: no lock needed. Staff revoking someone
    else's key must give a reason (REASON_REQUIRED)."""
    if actor is not None and actor.user_id != user.pk:
        reason = staff_reason(actor=actor, reason=reason)
    api_key = api_key_get_for_user(user=user, key_id=key_id)
    now = timezone.now()
    with transaction.atomic():
        if APIKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now):
            audit_record(
                action="api_key.revoke", actor=actor or Actor.for_user(user), target=api_key,
                changes={"revoked_at": [None, now.isoformat()]}, reason=reason,
            )
    api_key.refresh_from_db()
    return api_key


def api_key_rollover(
    *,
    user: User,
    key_id: int,
    name: str | None = None,
    expires_in_days: int | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    """A new key with the old key's scopes and IP allow-list. Meant for an expired key; an
    active key is revoked in the same transaction (a rotation), so the active count does not
    grow. A revoked key, or one already rolled over, answers INVALID_STATE. Locks the user row."""
    now = now or timezone.now()
    if expires_in_days is not None:
        _validate(name="x", scopes=[SCOPES[0]], expires_in_days=expires_in_days)
    with transaction.atomic():
        _lock_user(user.pk)
        old = APIKey.objects.select_for_update().filter(pk=key_id, user=user).first()
        if old is None:
            raise NotFound("No such API key.")
        if old.revoked_at is not None or old.rolled_over_to_id is not None:
            raise InvalidState("This key was revoked or already rolled over; create a new key instead.")
        was_active = old.status_at(now) == "active"
        if was_active:
            old.revoked_at = now
        else:
            _check_limit(user.pk, now)
        issued = _issue(
            user_id=user.pk, name=(name or old.name).strip() or old.name, scopes=old.scopes,
            allowed_ips=old.allowed_ips, expires_in_days=expires_in_days, now=now,
        )
        old.rolled_over_to = issued.api_key
        old.save(update_fields=["revoked_at", "rolled_over_to"])
        audit_record(
            action="api_key.rollover", actor=actor or Actor.for_user(user), target=issued.api_key,
            changes={"from": [old.prefix, issued.api_key.prefix], "scopes": [None, issued.api_key.scopes],
                     "revoked_old": [None, was_active]},
        )
    return issued


# --- checking a presented key ------------------------------------------------------------


def _ip_allowed(api_key: APIKey, ip: str | None) -> bool:
    if not api_key.allowed_ips:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    # A dual-stack server reports an IPv4 client as ::ffff:a.b.c.d: compare the IPv4 address
    # too, or no IPv4 allow-list entry could ever match it.
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    networks = [ipaddress.ip_network(net, strict=False) for net in api_key.allowed_ips]
    return any(candidate in network for candidate in candidates for network in networks)


def api_key_check(*, raw_key: str, ip: str | None, now: datetime | None = None) -> APIKey:
    """The key behind `raw_key`, with its user loaded. One query. Raises APIKeyRejected with
    API_KEY_INVALID / API_KEY_REVOKED / API_KEY_EXPIRED / IP_NOT_ALLOWED. Constant-time
    comparison of the digest, so timing does not tell how much of a guess was right."""
    match = _KEY_RE.match(raw_key.strip())
    if match is None:
        raise APIKeyRejected("API_KEY_INVALID", "The API key is unknown.")
    api_key = APIKey.objects.select_related("user").filter(prefix=match.group(1)).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, key_digest(raw_key.strip())):
        raise APIKeyRejected("API_KEY_INVALID", "The API key is unknown.")
    if not api_key.user.is_active:
        raise APIKeyRejected("API_KEY_INVALID", "The account behind this API key is inactive.")
    status = api_key.status_at(now or timezone.now())
    if status == "revoked":
        raise APIKeyRejected("API_KEY_REVOKED", "The API key has been revoked.")
    if status == "expired":
        raise APIKeyRejected("API_KEY_EXPIRED", "The API key has expired; roll it over (POST /api/v1/keys/rollover).")
    if not _ip_allowed(api_key, ip):
        raise APIKeyRejected("IP_NOT_ALLOWED", "The API key is not allowed from this IP address.")
    return api_key


# --- last used: batched ------------------------------------------------------------------

_redis_client = None


def _usage_hash() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:api_key_last_used"


def _redis():  # type: ignore[no-untyped-def]
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis_client


def api_key_usage_record(*, api_key: APIKey, ip: str | None, now: datetime | None = None) -> None:
    """Remember that `api_key` was used now, without a database write on this request.
    Never fails the request: losing a last-used time is better than refusing a purchase."""
    now = now or timezone.now()
    try:
        if settings.REDIS_URL:
            _redis().hset(_usage_hash(), str(api_key.pk), f"{now.timestamp()} {ip or ''}")
        elif cache.add(f"api_key_used:{api_key.pk}", 1, timeout=60):
            APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now, last_used_ip=ip or None)
    except Exception as exc:  # noqa: BLE001 - best effort by design
        log.warning("api_key_usage_record_failed", key_prefix=api_key.prefix, error=type(exc).__name__)


def api_key_usage_flush() -> int:
    """Write the batched last-used times to the database; returns how many keys changed.

    The hash is renamed first (atomic in Redis), so uses recorded while we write land in a
    fresh hash for the next run. A later time never goes backwards (conditional update)."""
    if not settings.REDIS_URL:
        return 0
    import redis

    client = _redis()
    batch = f"{_usage_hash()}:flushing:{secrets.token_hex(6)}"
    try:
        client.rename(_usage_hash(), batch)
    except redis.ResponseError:  # nothing recorded since the last flush
        return 0
    client.expire(batch, 3600)
    updated = 0
    for raw_pk, raw_value in client.hgetall(batch).items():
        stamp, _, ip = raw_value.decode().partition(" ")
        used_at = datetime.fromtimestamp(float(stamp), tz=UTC)
        updated += APIKey.objects.filter(pk=int(raw_pk)).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=used_at)
        ).update(last_used_at=used_at, last_used_ip=ip or None)
    client.delete(batch)
    return updated
