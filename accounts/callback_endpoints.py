"""Reseller callback endpoints: register, list, delete, re-enable; the delivery log and
re-sends (the delivery engine is accounts/callbacks.py).

Who may see what: an owner sees their own endpoints and deliveries (a key with `read` may
list them; every write needs a JWT). Someone else's endpoint is reachable only by staff with
a JWT whose staff group holds the permission of the operation (STAFF_READ_PERMISSION to read
the log, STAFF_RESEND_PERMISSION to re-send: backoffice/roles.py); everyone else gets 404,
so an endpoint's existence is not revealed.

A re-send keeps the event id and the body. It goes to the delivery's own endpoint, or, when
that endpoint was disabled or deleted, to another active endpoint of the same owner that
wants the event (`to_endpoint_id`): the replacement a reseller registered gets what the old
one missed, signed with its own secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts import callback_http, callback_signing, callbacks
from accounts.models import CallbackDelivery, CallbackEndpoint, User
from audit.services import Actor, audit_record
from config.errors import ApiError, InvalidState, NotFound, ReasonRequired

STAFF_READ_PERMISSION = "accounts.view_callbackdelivery"
STAFF_RESEND_PERMISSION = "accounts.change_callbackdelivery"


class CallbackEndpointLimit(ApiError):
    code = "CALLBACK_ENDPOINT_LIMIT"


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: CallbackEndpoint
    secret: str  # shown to the caller once


def _validate_events(events: list[str]) -> list[str]:
    if not events or any(event not in callbacks.EVENT_TYPES for event in events):
        raise ApiError(
            code="VALIDATION_ERROR", errors={"events": [f"One or more of: {', '.join(callbacks.EVENT_TYPES)}."]}
        )
    return [event for event in callbacks.EVENT_TYPES if event in set(events)]


def callback_endpoint_create(*, user: User, url: str, events: list[str], actor: Actor | None = None) -> CreatedEndpoint:
    """Register `url` for `events`. Raises UNSAFE_URL (scheme, or the name resolves to a
    non-public address), VALIDATION_ERROR, CALLBACK_ENDPOINT_LIMIT. Locks the user row for
    the count. The secret is in the result only; it is stored encrypted."""
    events = _validate_events(events)
    callback_http.check_url(url)  # DNS before the transaction: no lock held across it
    secret = callback_signing.secret_generate()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        if CallbackEndpoint.objects.filter(user=user, deleted_at__isnull=True).count() >= settings.CALLBACK_MAX_ENDPOINTS:
            raise CallbackEndpointLimit(f"At most {settings.CALLBACK_MAX_ENDPOINTS} callback endpoints; delete one first.")
        endpoint = CallbackEndpoint.objects.create(
            user=user, url=url.strip(), events=events,
            secret_encrypted=callback_signing.secret_encrypt(secret), secret_hint=callback_signing.secret_hint(secret),
        )
        audit_record(
            action="callback_endpoint.create", actor=actor or Actor.for_user(user), target=endpoint,
            changes={"url": [None, endpoint.url], "events": [None, events]},
        )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def callback_endpoint_list_for_user(*, user: User) -> QuerySet[CallbackEndpoint]:
    return CallbackEndpoint.objects.filter(user=user, deleted_at__isnull=True).order_by("-id")


def _staff_may(user: User, api_key: Any, permission: str | None) -> bool:
    """Staff reach other users' endpoints with a JWT (never a key) and the permission."""
    return bool(
        permission and api_key is None and user.is_staff and user.is_active and user.has_perm(permission)
    )


def callback_endpoint_get_for_user(
    *, user: User, endpoint_id: int, api_key: Any = None, staff_permission: str | None = None
) -> CallbackEndpoint:
    """The caller's endpoint (deleted ones included, for their delivery log), or another
    user's for staff holding `staff_permission` (see the module docstring). 404 otherwise."""
    endpoint = CallbackEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None or (endpoint.user_id != user.pk and not _staff_may(user, api_key, staff_permission)):
        raise NotFound("No such callback endpoint.")
    return endpoint


def callback_endpoint_delete(*, user: User, endpoint_id: int, actor: Actor | None = None) -> None:
    """Soft delete by the owner: no more deliveries; the delivery log stays readable.
    Idempotent."""
    endpoint = callback_endpoint_get_for_user(user=user, endpoint_id=endpoint_id)
    now = callbacks.clock()
    with transaction.atomic():
        if CallbackEndpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True).update(deleted_at=now, is_active=False):
            callbacks.close_pending(endpoint.pk, "endpoint deleted")
            audit_record(action="callback_endpoint.delete", actor=actor or Actor.for_user(user), target=endpoint)


def callback_endpoint_enable(*, staff: Actor, endpoint_id: int, reason: str) -> CallbackEndpoint:
    """Staff turn a disabled endpoint back on (after the reseller fixed it)."""
    if not (reason or "").strip():
        raise ReasonRequired()
    with transaction.atomic():
        updated = CallbackEndpoint.objects.filter(pk=endpoint_id, is_active=False, deleted_at__isnull=True).update(
            is_active=True, disabled_at=None, disabled_reason="", failing_since=None, last_failure_at=None
        )
        endpoint = CallbackEndpoint.objects.filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound("No such callback endpoint.")
        if not updated:
            raise InvalidState("Only a disabled (not deleted) endpoint can be enabled.")
        audit_record(action="callback_endpoint.enable", actor=staff, target=endpoint, reason=reason.strip())
    return endpoint


# --- the delivery log and re-sends ---------------------------------------------------------


def callback_delivery_list(*, endpoint: CallbackEndpoint) -> QuerySet[CallbackDelivery]:
    return CallbackDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempt_log")


def _resend_target(source: CallbackEndpoint, to_endpoint_id: int | None, event_type: str) -> CallbackEndpoint:
    """Where a re-send goes: the delivery's own endpoint, or another endpoint of its owner
    that is active and wants the event."""
    if to_endpoint_id is None or to_endpoint_id == source.pk:
        if not source.is_active:
            raise InvalidState(
                "The endpoint is disabled or deleted: re-send to an active endpoint of yours with `to_endpoint_id`."
            )
        return source
    target = CallbackEndpoint.objects.filter(pk=to_endpoint_id, user_id=source.user_id).first()
    if target is None:
        raise NotFound("No such callback endpoint.")
    if not target.is_active or event_type not in target.events:
        raise InvalidState("The endpoint to re-send to must be active and subscribed to this event.")
    return target


def _restart(delivery: CallbackDelivery, target: CallbackEndpoint, now: datetime) -> tuple[CallbackDelivery, str]:
    """A fresh round of retries for `delivery` on `target` (its copy there, made if needed:
    one row per endpoint and event id, so re-sending twice reuses it). Raises INVALID_STATE
    while an attempt holds the row."""
    token = callbacks.new_token()
    fresh = {"status": CallbackDelivery.Status.PENDING, "round_attempts": 0, "next_attempt_at": now,
             "claim_token": token, "claimed_until": now + callbacks.lease()}
    if target.pk != delivery.endpoint_id:
        copy, created = CallbackDelivery.objects.get_or_create(
            endpoint=target, event_id=delivery.event_id,
            defaults={"event_type": delivery.event_type, "body": delivery.body, **fresh},
        )
        if created:
            return copy, token
        delivery = copy
    idle = ~Q(status=CallbackDelivery.Status.PENDING) | Q(claimed_until=None) | Q(claimed_until__lt=now)
    if not CallbackDelivery.objects.filter(pk=delivery.pk).filter(idle).update(**fresh):
        raise InvalidState("This delivery is being sent right now.")
    return delivery, token


def callback_delivery_resend(
    *, user: User, endpoint_id: int, delivery_id: int, to_endpoint_id: int | None = None, api_key: Any = None,
    actor: Actor | None = None, now: datetime | None = None,
) -> CallbackDelivery:
    """Send a delivery again: the same event id and body, a fresh round of retries, to its
    endpoint or to `to_endpoint_id` (see the module docstring). Returns the delivery that will
    be sent. Refused (INVALID_STATE) while an attempt is in flight or when the endpoint to
    send to is not active (or does not want the event)."""
    source = callback_endpoint_get_for_user(
        user=user, endpoint_id=endpoint_id, api_key=api_key, staff_permission=STAFF_RESEND_PERMISSION
    )
    original = CallbackDelivery.objects.filter(pk=delivery_id, endpoint=source).first()
    if original is None:
        raise NotFound("No such delivery.")
    target = _resend_target(source, to_endpoint_id, original.event_type)
    now = now or callbacks.clock()
    with transaction.atomic():
        delivery, token = _restart(original, target, now)
        audit_record(
            action="callback_delivery.resend", actor=actor or Actor.for_user(user), target=delivery,
            changes={"from_delivery": [None, original.pk]} if delivery.pk != original.pk else None,
        )
        callbacks.dispatch(delivery.pk, token)
    delivery.refresh_from_db()
    return delivery
