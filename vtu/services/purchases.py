"""purchase_create: validate, price, and place the hold in one transaction (DESIGN §3).

Everything that can refuse runs before the transaction or inside it before commit, so a
refusal leaves no purchase, no hold and no queued task (only the stored response of the
request's Idempotency-Key, which the API layer keeps).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.phones import normalize_ng_mobile
from audit.services import Actor
from config import metrics
from config.errors import ApiError
from config.rows import deferring, execute_with_deferred, insert_row
from vtu import clock
from vtu.errors import (
    AmountOutOfRange,
    DuplicatePurchase,
    DuplicateReference,
    InvalidAmount,
    NetworkMismatch,
    NetworkNotFound,
    PlanNotFound,
    ProductDisabled,
    ProviderUnavailable,
    UnsupportedProduct,
)
from vtu.models import DataPlan, Network, ProductKind, Purchase
from vtu.services import dispatch, ledger, prices, routing, snapshot
from vtu.services.catalogue import network_for_number

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DISPATCH_GRACE = timedelta(seconds=60)  # the sweeper re-dispatches a purchase still pending after this
# The fingerprint and the resolution both need the number in E.164: parse it once per
# request (phonenumbers is a measurable share of a purchase's CPU). Refusals are not cached.
_e164_cached = lru_cache(maxsize=4096)(normalize_ng_mobile)


def _e164(raw: object) -> str:
    return _e164_cached(raw) if isinstance(raw, str) else normalize_ng_mobile(raw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PurchaseRequest:
    product: str  # data | airtime
    phone_number: str
    plan_code: str | None = None  # data
    network: str | None = None  # required for airtime; a cross-check for data
    amount_kobo: int | None = None  # airtime face value
    ported: bool = False
    confirm_duplicate: bool = False
    client_reference: str = ""
    idempotency_key: str = ""  # the request's Idempotency-Key, when it has one


@dataclass(frozen=True)
class Resolved:
    network: Network
    plan: DataPlan | None
    phone: str
    face_value_kobo: int | None


def new_reference() -> str:
    """Ours: 'P' + Lagos date-time to the second + 8 random characters (support can read the day)."""
    stamp = timezone.localtime(clock.now()).strftime("%y%m%d%H%M%S")
    return "P" + stamp + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def request_fingerprint(request: PurchaseRequest) -> str:
    """What was asked for, normalised (the number in E.164 when it parses), without the PIN
    and confirm_duplicate: the same client reference with another fingerprint is a conflict."""
    try:
        phone = _e164(request.phone_number)
    except ApiError:
        phone = request.phone_number.strip() if isinstance(request.phone_number, str) else ""
    body = {
        "product": request.product,
        "plan_code": request.plan_code or "",
        "network": (request.network or "").upper(),
        "phone": phone,
        "amount": request.amount_kobo,
        "ported": bool(request.ported),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def purchase_create(
    *, user: User, request: PurchaseRequest, via_api_key: bool = False, answer: Callable[[Purchase], None] | None = None
) -> tuple[Purchase, bool]:
    """Create a purchase and its hold; dispatch the worker after commit. `answer(purchase)`
    runs inside the transaction once the purchase and its hold are written (the API stores
    its Idempotency-Key answer there, so both commit together; what it raises rolls back).

    Returns (purchase, created). A client reference seen before returns the original
    purchase when the request is the same (created False), else raises DuplicateReference.
    Catalogue checks read the snapshot (vtu.services.snapshot: a switch takes effect within
    VTU_CATALOGUE_CACHE_SECONDS).
    Raises the input errors of `_resolve`, ProviderUnavailable, pricing's BELOW_COST,
    DuplicatePurchase, and the wallet's InsufficientFunds / WalletFrozen / LimitExceeded.
    Locks: the wallet row (inside hold_place) until commit, which also serialises the
    duplicate re-check of concurrent purchases by the same user.
    """
    fingerprint = request_fingerprint(request)
    if request.client_reference:
        existing = _by_client_reference(user, request.client_reference, fingerprint)
        if existing is not None:
            return existing, False
    resolved = _resolve(request)
    found = routing.candidates(
        network=resolved.network, product=request.product, plan=resolved.plan, face_value_kobo=resolved.face_value_kobo
    )
    if not found:
        raise ProviderUnavailable()
    price = _quote(user, request.product, resolved, found[0].cost_kobo, via_api_key)
    try:
        purchase = _create_with_hold(user, request, resolved, price, fingerprint, via_api_key, answer)
    except IntegrityError:
        # A twin committed first: the same client reference, or the same Idempotency-Key
        # (a retry after this process's predecessor died before the API stored its answer).
        existing = _twin(user, request, fingerprint)
        if existing is not None:
            return existing, False
        raise
    return purchase, True


def _twin(user: User, request: PurchaseRequest, fingerprint: str) -> Purchase | None:
    if request.client_reference:
        existing = _by_client_reference(user, request.client_reference, fingerprint)
        if existing is not None:
            return existing
    if request.idempotency_key:
        existing = (
            Purchase.objects.select_related("network", "plan")
            .filter(user=user, idempotency_key=request.idempotency_key)
            .first()
        )
        if existing is not None and existing.request_hash != fingerprint:
            raise ApiError(code="IDEMPOTENCY_KEY_REUSED")
        return existing
    return None


def _create_with_hold(
    user: User, request: PurchaseRequest, resolved: Resolved, price: object, fingerprint: str, via_api_key: bool,
    answer: Callable[[Purchase], None] | None,
) -> Purchase:
    now = clock.now()
    reference = new_reference()
    with transaction.atomic():
        purchase = Purchase(
            reference=reference, client_reference=request.client_reference, request_hash=fingerprint, user=user,
            idempotency_key=request.idempotency_key[:255],
            channel=Purchase.Channel.API if via_api_key else Purchase.Channel.WEB,
            hold_reference=ledger.hold_reference(reference), product=request.product, network=resolved.network,
            plan=resolved.plan, phone=resolved.phone, ported=request.ported, face_value_kobo=resolved.face_value_kobo,
            amount_kobo=price.price_kobo, cost_kobo=price.cost_kobo, margin_kobo=price.price_kobo - price.cost_kobo,
            pricing_rule_id=price.rule_id, pricing_rule_label=(price.rule_label or "")[:120],
            next_check_at=now + DISPATCH_GRACE, created_at=now, updated_at=now,
        )
        # config.rows.deferring: the purchase's INSERT goes with the hold's, and the stored
        # answer with the duplicate check, in one round trip each. IntegrityError (surfacing
        # at the hold) on a twin's client reference or Idempotency-Key.
        with deferring():
            insert_row(purchase, defer=True)
            ledger.purchase_hold(purchase=purchase, kyc_tier=user.kyc_tier, actor=Actor.for_user(user))
            if answer is not None:
                answer(purchase)
            if not request.confirm_duplicate:
                # After the hold, under the wallet row lock it took: a concurrent twin of this
                # user's has committed by now, so exactly one of two identical requests passes.
                # (Checked here only: before the hold it would be a second query on every purchase.)
                _duplicate_guard(user, request.product, resolved, exclude_id=purchase.pk)
        transaction.on_commit(lambda: _dispatch(purchase))
    return purchase


def _dispatch(purchase: Purchase) -> None:
    from vtu.tasks import purchase_process

    metrics.PURCHASES.labels(
        status="pending", network=purchase.network.code, provider="none", product=purchase.product
    ).inc()
    dispatch.send_now(purchase_process, purchase.pk)  # never raises: the sweeper re-sends a lost one


def _by_client_reference(user: User, client_reference: str, fingerprint: str) -> Purchase | None:
    existing = (
        Purchase.objects.select_related("network", "plan")
        .filter(user=user, client_reference=client_reference)
        .first()
    )
    if existing is not None and existing.request_hash != fingerprint:
        raise DuplicateReference(errors={"reference": ["Already used for a different purchase."]})
    return existing


def _resolve(request: PurchaseRequest) -> Resolved:
    """Number, network, plan and amount, each with its own error code."""
    phone = _e164(request.phone_number)
    catalogue = snapshot.current()
    network = plan = face_value = None
    if request.network:
        network = catalogue.networks.get(request.network.upper())
        if network is None:
            raise NetworkNotFound(errors={"network": [f"Unknown network {request.network!r}."]})
    if request.product == ProductKind.DATA:
        plan = catalogue.plans.get(request.plan_code or "")
        if plan is None:
            raise PlanNotFound(errors={"plan_code": ["No such data plan."]})
        if network is not None and network.pk != plan.network_id:
            raise UnsupportedProduct(errors={"plan_code": [f"{plan.code} is not a {network.code} plan."]})
        network = plan.network
        if not plan.active or not network.active or not network.plan_type_active(plan.plan_type):
            raise ProductDisabled(errors={"plan_code": ["This plan, its plan type or its network is switched off."]})
    else:
        if network is None:
            raise NetworkNotFound(errors={"network": ["Airtime needs a network."]})
        face_value = _airtime_amount(network, request.amount_kobo)
    _check_prefix(phone, network, request.ported)
    return Resolved(network=network, plan=plan, phone=phone, face_value_kobo=face_value)


def _airtime_amount(network: Network, amount_kobo: int | None) -> int:
    if not network.active or not network.airtime_active:
        raise ProductDisabled(errors={"network": [f"{network.name} airtime is switched off."]})
    if not isinstance(amount_kobo, int) or amount_kobo <= 0 or amount_kobo % 100:
        raise InvalidAmount(errors={"amount": ["Airtime is sold in whole naira: a multiple of 100 kobo."]})
    if not network.airtime_min_kobo <= amount_kobo <= network.airtime_max_kobo:
        raise AmountOutOfRange(
            errors={"amount": [f"{network.name} airtime: {network.airtime_min_kobo} to {network.airtime_max_kobo} kobo."]}
        )
    return amount_kobo


def _check_prefix(phone: str, network: Network, ported: bool) -> None:
    """The prefix is a hint (numbers are ported): a mismatch needs `ported: true`."""
    if ported:
        return
    guessed = network_for_number(phone, list(snapshot.current().networks.values()))
    if guessed is None or guessed.pk != network.pk:
        owner = guessed.name if guessed is not None else "no network we sell"
        raise NetworkMismatch(
            detail=f"The number's prefix belongs to {owner}, not {network.name}; send `ported: true` if it was ported.",
            errors={"phone_number": [f"Prefix of {owner}."]},
        )


def _quote(user: User, product: str, resolved: Resolved, cost_kobo: int, via_api_key: bool) -> object:
    from pricing.services import Audience, ProductKey

    plan = resolved.plan
    return prices.quote(
        audience=Audience(role=user.role, user_id=user.pk, via_api_key=via_api_key),
        product=ProductKey(
            kind=product, network=resolved.network.code,
            plan_type=plan.plan_type if plan is not None else "", plan_code=plan.code if plan is not None else "",
        ),
        cost_kobo=cost_kobo,
        face_value_kobo=resolved.face_value_kobo,
    )


# One fixed statement (the ORM would rebuild it on every purchase; it is on the hot path).
# Uses purchase_duplicate_idx (user, phone, created_at).
_TWIN_SQL = (
    "SELECT reference FROM vtu_purchase WHERE user_id = %s AND phone = %s AND product = %s"
    " AND created_at >= %s AND status <> 'failed' AND id <> %s"
    " AND ((%s::bigint IS NOT NULL AND plan_id = %s)"
    " OR (%s::bigint IS NULL AND network_id = %s AND face_value_kobo = %s)) LIMIT 1"
)


def _duplicate_guard(user: User, product: str, resolved: Resolved, *, exclude_id: int) -> None:
    """The same product for the same number within the window needs confirm_duplicate
    (providers reject or silently merge such repeats, R12). Failed purchases do not count."""
    since = clock.now() - timedelta(seconds=settings.DUPLICATE_PURCHASE_WINDOW_SECONDS)
    plan_id = resolved.plan.pk if resolved.plan is not None else None
    sql = _TWIN_SQL if connection.vendor == "postgresql" else _TWIN_SQL.replace("::bigint", "")
    with connection.cursor() as cursor:
        execute_with_deferred(cursor, sql, [  # carries what waits (the stored answer)
            user.pk, resolved.phone, product, since, exclude_id,
            plan_id, plan_id, plan_id, resolved.network.pk, resolved.face_value_kobo,
        ])
        twin = cursor.fetchone()
    if twin is not None:
        raise DuplicatePurchase(errors={"duplicate_of": twin[0]})
