"""Unsigned provider callbacks (VTpass transaction updates, ClubKonnect CallBackURL): kept in
an inbox for disputes and used only to trigger a requery (R6).

Anyone can post one, so a callback never settles money: it can at most make us ask the
provider about the attempt it names, once per purchase per CALLBACK_REQUERY_SECONDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from django.core.cache import cache
from django.db import transaction

from config.logs import mask_string
from vtu import clock
from vtu.models import ProviderAttempt, ProviderCallback, Purchase
from vtu.services import dispatch
from vtu.services.calls import CallRecorder, provider_get

log = structlog.get_logger("vtu.callbacks")
Verdict = ProviderCallback.Verdict
CALLBACK_REQUERY_SECONDS = 30  # at most one callback-triggered requery per purchase in this time


@dataclass(frozen=True)
class CallbackEvidence:
    """What arrived, as the view read it (the body, or a GET's query string)."""

    method: str
    raw: str
    size: int
    headers: dict[str, str]
    remote_ip: str | None


def provider_callback_receive(*, provider: str, evidence: CallbackEvidence, payload: dict[str, Any] | None) -> ProviderCallback:
    """Store the callback (one INSERT, capped) and, when it names an attempt of ours whose
    purchase is open or delivered, queue a requery after commit. `payload` None means the
    body could not be read as an object (stored as MALFORMED). Never moves money."""
    verdict, request_id, purchase = _match(provider, payload)
    with transaction.atomic():
        row = ProviderCallback.objects.create(
            provider=provider[:32], received_at=clock.now(), method=evidence.method[:8], remote_ip=evidence.remote_ip,
            headers={name: evidence.headers[name][:200] for name in ProviderCallback.KEPT_HEADERS if name in evidence.headers},
            body=_excerpt(evidence.raw), body_bytes=evidence.size,
            request_id=request_id[:64], purchase=purchase, verdict=verdict,
        )
        if verdict == Verdict.REQUERY_QUEUED and purchase is not None:
            _dispatch_requery(purchase.pk)
    if verdict == Verdict.UNMATCHED:
        log.info("provider_callback_unmatched", provider=provider, callback_id=row.pk)
    return row


def _excerpt(raw: str) -> str:
    """Mask first, then cut (masking shortens a token, and a cut could split one); only twice
    the excerpt is scanned, so a large body costs no more than a small one."""
    limit = ProviderCallback.BODY_EXCERPT_CHARS
    return mask_string(raw[: 2 * limit])[:limit]


def _match(provider: str, payload: dict[str, Any] | None) -> tuple[str, str, Purchase | None]:
    if payload is None:
        return Verdict.MALFORMED, "", None
    request_id = provider_get(provider, CallRecorder()).callback_request_id(payload) or ""
    if not request_id:
        return Verdict.NO_REQUEST_ID, "", None
    attempt = ProviderAttempt.objects.select_related("purchase").filter(provider=provider, request_id=request_id).first()
    if attempt is None:
        return Verdict.UNMATCHED, request_id, None
    purchase = attempt.purchase
    if purchase.status not in (Purchase.Status.PROCESSING, Purchase.Status.SUCCESSFUL):
        return Verdict.ALREADY_FINAL, request_id, purchase
    if not cache.add(f"vtu:callback-requery:{purchase.pk}", 1, timeout=CALLBACK_REQUERY_SECONDS):
        return Verdict.REQUERY_RECENT, request_id, purchase
    return Verdict.REQUERY_QUEUED, request_id, purchase


def _dispatch_requery(purchase_id: int) -> None:
    from vtu.tasks import purchase_requery

    dispatch.after_commit(purchase_requery, purchase_id, "callback")
