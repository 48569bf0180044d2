"""The worker flow: claim, send, record; requery; failover (DESIGN §3, ledger ref §3.4).

    claim (pending -> processing, short transaction)
    attempt created and committed as `sending` (its request id fixed before anything leaves)
    provider call  -- no transaction open, no row locked
    calls stored (autocommit), then the answer recorded in one transaction:
      SUCCESS -> capture + successful + receipt + callback
      FAILED  -> failover_allowed and another routed provider at cost <= price: next attempt;
                 else release + failed + receipt + callback
      PENDING / UNKNOWN -> stay processing, next_check_at on the backoff; never released

Only a definitive answer fails a purchase. Nothing here retries a send except where the
provider documents resending the same request id as safe (Amigo's Idempotency-Key).
Every state change is a conditional update, so two workers (a slow one and the sweeper's
requery, or a provider callback) can race without moving money twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from config.alerts import alert_raise
from vtu import clock, faults
from vtu.models import ProductKind, ProviderAttempt, Purchase
from vtu.providers.base import (
    AirtimeOrder,
    DataOrder,
    Outcome,
    ProductNotSupported,
    Provider,
    ProviderResult,
    QueryNotSupported,
)
from vtu.services import ledger, routing, snapshot
from vtu.services.calls import CallRecorder, provider_config, provider_get
from vtu.services.notify import notify_outcome
from vtu.services.transitions import purchase_note, purchase_transition

log = structlog.get_logger("vtu.flow")

Status = Purchase.Status
State = ProviderAttempt.State
BACKOFF_SECONDS = (30, 60, 120, 300, 900)  # then hourly (R5)
HOURLY = 3600
AWAITING = "Awaiting confirmation from the network."


def backoff(check_attempts: int) -> timedelta:
    seconds = BACKOFF_SECONDS[check_attempts] if check_attempts < len(BACKOFF_SECONDS) else HOURLY
    return timedelta(seconds=seconds)


def in_flight_grace(provider: str) -> timedelta:
    """How long an attempt may stay `sending` before we conclude its worker is gone: the
    adapter's own timeouts plus a margin. Until then nobody queries or re-sends it."""
    config = provider_config(provider)
    seconds = config.get("CONNECT_TIMEOUT_SECONDS", 5) + config.get("READ_TIMEOUT_SECONDS", 30)
    return timedelta(seconds=seconds + 30)


def _load(purchase_id: int) -> Purchase | None:
    """The purchase, its network and plan attached from the catalogue snapshot (a plan's
    name or switch changing later does not matter here: the purchase was accepted)."""
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        return None
    catalogue = snapshot.current()
    network = catalogue.networks_by_id.get(purchase.network_id)
    plan = catalogue.plans_by_id.get(purchase.plan_id) if purchase.plan_id else None
    if network is None or (purchase.plan_id and plan is None):
        return Purchase.objects.select_related("network", "plan").get(pk=purchase_id)  # newer than the snapshot
    purchase.network, purchase.plan = network, plan
    return purchase


def purchase_process(*, purchase_id: int) -> None:
    """Worker entry for a new purchase. Idempotent: only the claim's winner sends.

    The claim and the first attempt commit together (one transaction, no lock held after),
    then the call goes out; later attempts (failover) go through `_send_next`."""
    purchase = _load(purchase_id)
    if purchase is None or purchase.status != Status.PENDING:
        return
    first = next(_affordable(purchase), None)
    now = clock.now()
    with transaction.atomic():
        # The claim's winner holds the purchase row until commit, so attempt 1 cannot race:
        # no savepoint. Its next check waits out the call's timeouts (nobody requeries a
        # request that may still be in flight).
        claimed = purchase_transition(
            purchase=purchase, to=Status.PROCESSING, cause="claimed",
            next_check_at=now + (in_flight_grace(first.provider) if first else backoff(0)),
            provider=first.provider if first else "",
        )
        # Only the claim's winner may take a half-open breaker's single probe: a loser holding
        # it would keep the provider dark until the cool-down ends. Lost: look again below.
        if claimed and first is not None and not first.closed and not routing.circuit_claim(first.provider):
            first = None
        attempt = _attempt_row(purchase, first, number=1) if claimed and first is not None else None
    if not claimed:
        return
    if attempt is None:
        _send_next(purchase)  # nobody could take it a moment ago: look again, else fail (refund)
        return
    _send(purchase, attempt)


def _affordable(purchase: Purchase) -> Iterator[routing.Candidate]:
    """Routed providers whose cost is within the price (the customer's price never changes),
    best first; a half-open breaker's probe is not claimed here."""
    for candidate in routing.candidates(
        network=purchase.network, product=purchase.product, plan=purchase.plan,
        face_value_kobo=purchase.face_value_kobo,
    ):
        if candidate.cost_kobo <= max_cost(purchase):
            yield candidate


def _sendable(purchase: Purchase) -> Iterator[routing.Candidate]:
    """Affordable providers that may take this purchase now: breaker closed, or this call won
    the half-open probe. Only for a purchase this worker already claimed."""
    for candidate in _affordable(purchase):
        if candidate.closed or routing.circuit_claim(candidate.provider):
            yield candidate


def _send(purchase: Purchase, attempt: ProviderAttempt) -> None:
    """Call, record; on a failover-type failure go on to the next provider."""
    result = _call(purchase, attempt)
    if _record(purchase, attempt, result, source="buy") == "failover":
        purchase.refresh_from_db()
        if purchase.status == Status.PROCESSING:
            _send_next(purchase)


def _send_next(purchase: Purchase) -> None:
    """Send to the next usable provider not tried yet; fail the purchase when none is left."""
    for candidate in _sendable(purchase):
        attempt = _attempt_create(purchase, candidate)
        if attempt is not None:
            _send(purchase, attempt)
            return
    _fail_without_provider(purchase)


def max_cost(purchase: Purchase) -> int:
    """The most a provider may cost: the price, or under a below-cost promotion the cost it
    was quoted at (purchase.cost_kobo holds the quoted cost until the capture)."""
    return max(purchase.amount_kobo, purchase.cost_kobo)


def _attempt_create(purchase: Purchase, candidate: routing.Candidate) -> ProviderAttempt | None:
    """Commit a `sending` attempt before the call. None when the purchase moved on, another
    attempt is still open, or this provider was tried already (a racing worker)."""
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().filter(pk=purchase.pk, status=Status.PROCESSING).first()
        if locked is None:
            return None
        attempts = list(ProviderAttempt.objects.filter(purchase=purchase).values_list("provider", "state"))
        if any(state in ProviderAttempt.OPEN_STATES for _p, state in attempts):
            return None
        if any(provider == candidate.provider for provider, _s in attempts):
            return None
        attempt = _attempt_insert(purchase, candidate, number=len(attempts) + 1)
        if attempt is not None and attempt.number > 1:
            purchase_note(purchase=purchase, cause="failover", detail={"provider": candidate.provider})
    return attempt


def _attempt_insert(purchase: Purchase, candidate: routing.Candidate, *, number: int) -> ProviderAttempt | None:
    """The attempt row, inside the caller's transaction (None if a racing worker's won the
    unique constraints), and the purchase's next check pushed past the call's timeouts:
    nobody may query or re-send this attempt while its call can still be in flight."""
    now = clock.now()
    try:
        with transaction.atomic():
            attempt = _attempt_row(purchase, candidate, number=number)
    except IntegrityError:
        return None
    Purchase.objects.filter(pk=purchase.pk).update(
        provider=candidate.provider, next_check_at=now + in_flight_grace(candidate.provider), updated_at=now
    )
    purchase.provider = candidate.provider
    return attempt


def _attempt_row(purchase: Purchase, candidate: routing.Candidate, *, number: int) -> ProviderAttempt:
    return ProviderAttempt.objects.create(
        purchase=purchase, number=number, provider=candidate.provider,
        request_id=new_request_id(candidate.provider), provider_plan_id=candidate.provider_plan_id,
        cost_kobo=candidate.cost_kobo, created_at=clock.now(),
    )


def new_request_id(provider: str) -> str:
    """Unique per attempt, in the provider's own format (VTpass: the Lagos date-time first);
    fixed before anything is sent and never regenerated for this attempt."""
    return provider_get(provider, CallRecorder()).new_request_id(now=clock.now())[:64]


def _order(purchase: Purchase, attempt: ProviderAttempt) -> DataOrder | AirtimeOrder:
    if purchase.product == ProductKind.DATA:
        return DataOrder(
            request_id=attempt.request_id, network=purchase.network.code, phone_e164=purchase.phone,
            provider_plan_id=attempt.provider_plan_id, ported=purchase.ported,
        )
    return AirtimeOrder(
        request_id=attempt.request_id, network=purchase.network.code, phone_e164=purchase.phone,
        amount_kobo=purchase.face_value_kobo or 0, ported=purchase.ported,
    )


def _call(purchase: Purchase, attempt: ProviderAttempt, *, recheck: bool = False) -> ProviderResult:
    """The provider call, outside any transaction: a buy, or a recheck (the vendor's query,
    or a resend of the same request id where that is documented as safe). An adapter that
    raises is UNKNOWN: the request may have left."""
    recorder = CallRecorder(purchase_id=purchase.pk, attempt_id=attempt.pk)
    started = time.perf_counter()
    try:
        provider = provider_get(attempt.provider, recorder)
        faults.hit("before_provider_call")
        if recheck:
            result = provider.recheck(_order(purchase, attempt), provider_reference=attempt.provider_reference)
        else:
            result = _buy(provider, purchase, attempt)
    except (faults.SimulatedCrash, QueryNotSupported):
        raise
    except ProductNotSupported as exc:  # refused before any HTTP: nothing was sent
        result = ProviderResult(outcome=Outcome.FAILED, message=exc.detail, failover_allowed=True)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the order may have been sent
        log.warning("provider_call_raised", provider=attempt.provider, request_id=attempt.request_id,
                    error=type(exc).__name__)
        result = ProviderResult(outcome=Outcome.UNKNOWN, message=f"adapter error: {type(exc).__name__}")
    finally:
        recorder.flush()
    attempt.latency_ms = int((time.perf_counter() - started) * 1000)
    faults.hit("after_provider_call")
    return result


def _buy(provider: Provider, purchase: Purchase, attempt: ProviderAttempt) -> ProviderResult:
    order = _order(purchase, attempt)
    if isinstance(order, DataOrder):
        return provider.buy_data(order)
    return provider.buy_airtime(order)


def _record(purchase: Purchase, attempt: ProviderAttempt, result: ProviderResult, *, source: str) -> str:
    """Apply one provider answer. Returns 'done', 'waiting' or 'failover'."""
    _breaker(attempt.provider, result, source)
    if result.outcome == Outcome.SUCCESS:
        settle_success(purchase, attempt, result, source)
        return "done"
    if result.outcome == Outcome.FAILED:
        closed = attempt_close(attempt, State.FAILED, result)
        if not closed and attempt.state != State.FAILED:
            return "done"  # a concurrent answer settled this attempt otherwise
        if attempt.failover_allowed:
            return "failover"
        settle_failed(purchase, cause=f"{source}_failed", message=result.message or "The provider could not deliver.")
        return "done"
    _record_waiting(purchase, attempt, result, source)
    return "waiting"


def _breaker(provider: str, result: ProviderResult, source: str) -> None:
    if source == "query":
        return  # a requery says nothing new about the provider's health
    if result.outcome == Outcome.UNKNOWN or (result.outcome == Outcome.FAILED and result.failover_allowed):
        routing.circuit_record_failure(provider)
    elif routing.failures_on_record(provider):
        routing.circuit_record_success(provider)


def attempt_close(attempt: ProviderAttempt, state: str, result: ProviderResult) -> bool:
    """Open attempt -> final state, once (conditional update)."""
    now = clock.now()
    values = {
        "state": state, "answered_at": now, "message": (result.message or "")[:500],
        "failover_allowed": result.failover_allowed and state == State.FAILED,
        "provider_reference": (result.provider_reference or attempt.provider_reference)[:128],
        "charged_kobo": result.cost_kobo, "latency_ms": attempt.latency_ms,
    }
    moved = ProviderAttempt.objects.filter(pk=attempt.pk, state__in=ProviderAttempt.OPEN_STATES).update(**values)
    if moved:
        for name, value in values.items():
            setattr(attempt, name, value)
    else:
        attempt.refresh_from_db()
    return bool(moved)


def settle_success(purchase: Purchase, attempt: ProviderAttempt, result: ProviderResult, source: str) -> bool:
    """processing -> successful and capture, in one transaction. False when this call did
    not move the purchase (another answer or worker settled it first)."""
    with transaction.atomic():
        attempt_close(attempt, State.SUCCESS, result)
        if attempt.state != State.SUCCESS:
            _contradiction(purchase, attempt, "success after the attempt was closed as " + attempt.state)
            return False
        moved = purchase_transition(
            purchase=purchase, to=Status.SUCCESSFUL, cause=f"{source}_success",
            detail={"request_id": attempt.request_id, "provider": attempt.provider},
            provider=attempt.provider, provider_reference=attempt.provider_reference,
            message=(result.message or "Delivered.")[:500], token=(result.token or "")[:200],
            cost_kobo=attempt.cost_kobo, margin_kobo=purchase.amount_kobo - attempt.cost_kobo,
        )
        if moved:
            faults.hit("inside_capture")
            ledger.purchase_capture(purchase=purchase, provider=attempt.provider, cost_kobo=attempt.cost_kobo)
            notify_outcome(purchase)
        else:
            purchase.refresh_from_db()
            if purchase.status == Status.FAILED:
                _contradiction(purchase, attempt, "provider reports delivery of a purchase already failed")
    return moved


def settle_failed(purchase: Purchase, *, cause: str, message: str, actor: str = "") -> bool:
    """processing -> failed and release the hold, in one transaction."""
    with transaction.atomic():
        moved = purchase_transition(
            purchase=purchase, to=Status.FAILED, cause=cause, actor=actor,
            message=f"Failed, refunded: {message}"[:500],
        )
        if moved:
            ledger.purchase_release(purchase=purchase)
            notify_outcome(purchase)
    return moved


def _fail_without_provider(purchase: Purchase) -> None:
    """No (further) provider can take it. Safe to release only because every attempt made
    so far ended in a definitive failure. The check runs under the purchase row lock that
    `_attempt_create` also takes, so an attempt another worker is opening right now is
    either seen here (and nothing is released) or refused there (the purchase is failed)."""
    with transaction.atomic():
        if Purchase.objects.select_for_update().filter(pk=purchase.pk, status=Status.PROCESSING).first() is None:
            return
        if ProviderAttempt.objects.filter(purchase=purchase, state__in=ProviderAttempt.OPEN_STATES).exists():
            return
        settle_failed(purchase, cause="no_provider", message="no provider can deliver this right now.")


def _record_waiting(purchase: Purchase, attempt: ProviderAttempt, result: ProviderResult, source: str) -> None:
    """PENDING / UNKNOWN: keep the hold, schedule the next check."""
    state = State.PENDING if result.outcome == Outcome.PENDING else State.UNKNOWN
    now = clock.now()
    ProviderAttempt.objects.filter(pk=attempt.pk, state__in=ProviderAttempt.OPEN_STATES).update(
        state=state, last_checked_at=now, message=(result.message or "")[:500],
        provider_reference=(result.provider_reference or attempt.provider_reference)[:128],
        latency_ms=attempt.latency_ms,
    )
    attempt.state = state
    with transaction.atomic():
        moved = Purchase.objects.filter(pk=purchase.pk, status=Status.PROCESSING).update(
            next_check_at=now + backoff(purchase.check_attempts), message=AWAITING, updated_at=now,
            provider_reference=(result.provider_reference or purchase.provider_reference)[:128],
        )
        if moved:
            purchase_note(
                purchase=purchase, cause=f"{source}_{result.outcome.value}",
                detail={"request_id": attempt.request_id, "message": (result.message or "")[:200]},
            )


def _contradiction(purchase: Purchase, attempt: ProviderAttempt, what: str) -> None:
    """Two answers disagree (e.g. delivered after we released): money may be lost; staff decide."""
    alert_raise(
        kind="purchase_contradiction", dedupe_key=f"purchase_contradiction:{purchase.reference}",
        message=f"Purchase {purchase.reference}: {what}", severity="critical",
        details={"reference": purchase.reference, "request_id": attempt.request_id, "provider": attempt.provider},
    )
    log.error("purchase_contradiction", reference=purchase.reference, what=what)


# --- requery ----------------------------------------------------------------------------


def purchase_requery(*, purchase_id: int, reason: str = "due") -> str:
    """Settle an open purchase from its provider (query, or a safe resend), or look for a
    reversal of a delivered one (after a provider callback). Returns what happened.
    Idempotent and safe to run concurrently with the first worker (conditional updates)."""
    purchase = _load(purchase_id)
    if purchase is None:
        return "missing"
    if purchase.status == Status.SUCCESSFUL:
        return _reversal_check(purchase)
    if purchase.status != Status.PROCESSING:
        return "closed"
    attempt = ProviderAttempt.objects.filter(purchase=purchase).order_by("-number").first()
    if attempt is None or not attempt.is_open:
        return _resume(purchase, attempt)
    now = clock.now()
    if attempt.state == State.SENDING and attempt.created_at + in_flight_grace(attempt.provider) > now:
        _reschedule(purchase, at=attempt.created_at + in_flight_grace(attempt.provider))
        return "in_flight"
    purchase.check_attempts += 1
    Purchase.objects.filter(pk=purchase.pk, status=Status.PROCESSING).update(check_attempts=purchase.check_attempts)
    return _requery_attempt(purchase, attempt, reason)


def _capabilities(provider: str) -> tuple[bool, bool]:
    """(supports_query, resend_same_request_id_is_safe) of a provider."""
    adapter = provider_get(provider, CallRecorder())
    return adapter.supports_query, adapter.resend_same_request_id_is_safe


def _requery_attempt(purchase: Purchase, attempt: ProviderAttempt, reason: str) -> str:
    supports_query, resend_safe = _capabilities(attempt.provider)
    now = clock.now()
    if not (supports_query or resend_safe):
        _reschedule(purchase, at=now + backoff(purchase.check_attempts))
        return "no_query"  # only staff can settle it (needs_review_at after the SLA)
    counter = "queries" if supports_query else "sends"
    ProviderAttempt.objects.filter(pk=attempt.pk).update(**{counter: F(counter) + 1}, last_checked_at=now)
    result = _call(purchase, attempt, recheck=True)
    outcome = _record(purchase, attempt, result, source="query" if supports_query else "resend")
    if outcome == "failover":
        purchase.refresh_from_db()
        if purchase.status == Status.PROCESSING:
            _send_next(purchase)
    log.info("purchase_requeried", reference=purchase.reference, reason=reason, outcome=result.outcome.value)
    return result.outcome.value


def _resume(purchase: Purchase, last: ProviderAttempt | None) -> str:
    """A processing purchase with no open attempt: its worker died between steps (after the
    claim, or between a definitive failure and the next attempt). Continue where it stopped."""
    if last is not None and last.state == State.SUCCESS:
        settle_success(purchase, last, ProviderResult(outcome=Outcome.SUCCESS, message=last.message), "resume")
        return "resumed_success"
    if last is not None and last.state == State.FAILED and not last.failover_allowed:
        settle_failed(purchase, cause="resume_failed", message=last.message or "The provider could not deliver.")
        return "resumed_failed"
    _send_next(purchase)
    return "resumed"


def _reschedule(purchase: Purchase, *, at: datetime) -> None:
    Purchase.objects.filter(pk=purchase.pk, status=Status.PROCESSING).update(next_check_at=at)


def _reversal_check(purchase: Purchase) -> str:
    """A delivered purchase the provider now reports failed (reversed): post the reversal."""
    attempt = ProviderAttempt.objects.filter(purchase=purchase, state=State.SUCCESS).order_by("-number").first()
    if attempt is None or not _capabilities(attempt.provider)[0]:
        return "no_query"
    result = _call(purchase, attempt, recheck=True)
    if result.outcome != Outcome.FAILED:
        return result.outcome.value
    if not result.reversed:
        # "Failed" without the vendor saying it gave the money back: do not guess; staff look.
        _contradiction(purchase, attempt, "a delivered purchase is now reported failed (not as a reversal)")
        return "contradiction"
    from vtu.services.staff import purchase_reverse

    purchase_reverse(purchase=purchase, cause="provider_reversal", message=result.message)
    return "reversed"


def sla_minutes() -> int:
    return settings.PURCHASE_SLA_MINUTES
