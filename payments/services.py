"""Deposits: start a checkout, confirm with the gateway, credit exactly once, reverse.

Exactly once, whatever arrives and however often: (1) `deposit_settle` locks the deposit row
and returns at once when it is already successful or reversed; (2) the journal key
`fund:<gateway>:<reference>` is UNIQUE in the ledger, so even a second writer that got past
(1) would get the first journal back; (3) the status moves by conditional update from an
explicit transition map. The gateway is asked with no transaction open (config.http refuses
otherwise); only its answer is used, never the webhook's claim.

Fee legs (docs/adr/0003-deposit-fees.md): clearing -(paid - fee), fees -fee, wallet
+credited, revenue +(paid - credited). FEE_BEARER=platform credits what was paid;
FEE_BEARER=customer credits paid - fee, and the fee recovered from the customer is revenue.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts import tasks as account_tasks
from accounts.callbacks import callback_emit
from audit.services import Actor, audit_record
from config.alerts import alert_raise
from config.metrics import DEPOSITS
from payments.errors import AmountOutOfRange, GatewayDisabled, GatewayFailed, UnknownGatewayError
from payments.gateways.base import GatewayError
from payments.gateways.registry import UnknownGateway, gateway_config, get_gateway, is_enabled
from payments.gateways.types import CheckoutRequest, GatewayTransaction, Money, Status
from payments.judging import Verdict, credit_blocker, judge
from payments.models import Deposit

SYSTEM = Actor.system("payments")
# Recovery schedule of an initialized deposit: ask the gateway after these many minutes
# (then every RECHECK_MINUTES), abandon after ABANDON_AFTER.
CHECK_SCHEDULE_MINUTES = (3, 5, 10, 30, 60)
RECHECK_MINUTES = 180
ABANDON_AFTER = timedelta(hours=24)
DepositStatus = Deposit.Status
ONE_CREDIT_CONSTRAINT = "deposit_one_credit_per_gateway_transaction"


def new_reference() -> str:
    """DEP-<20 base32 chars>: unguessable, unique, and within Paystack's [A-Za-z0-9-.=]."""
    alphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
    return "DEP-" + "".join(secrets.choice(alphabet) for _ in range(20))


def next_check_delay(attempts: int) -> timedelta:
    minutes = CHECK_SCHEDULE_MINUTES[attempts] if attempts < len(CHECK_SCHEDULE_MINUTES) else RECHECK_MINUTES
    return timedelta(minutes=minutes)


def gateway_require_enabled(gateway: str) -> None:
    try:
        gateway_config(gateway)
    except UnknownGateway as exc:
        raise UnknownGatewayError() from exc
    if not is_enabled(gateway):
        raise GatewayDisabled()


# --- start ---------------------------------------------------------------------------------


def deposit_start(*, user: Any, gateway: str, amount_kobo: int, callback_url: str = "") -> Deposit:
    """Create the deposit (committed), then open the gateway's checkout (no transaction open),
    then store the gateway's ids. A failed checkout call leaves the deposit initialized: it
    may exist at the gateway after a timeout, and the sweep verifies and later abandons it.

    Raises UNKNOWN_GATEWAY, GATEWAY_DISABLED, AMOUNT_OUT_OF_RANGE, GATEWAY_ERROR.
    """
    gateway_require_enabled(gateway)
    if not settings.FUND_MIN_KOBO <= amount_kobo <= settings.FUND_MAX_KOBO:
        raise AmountOutOfRange(
            f"Fund between {settings.FUND_MIN_KOBO} and {settings.FUND_MAX_KOBO} kobo.",
            errors={"amount": {"min": settings.FUND_MIN_KOBO, "max": settings.FUND_MAX_KOBO}},
        )
    _check_max_balance(user=user, amount_kobo=amount_kobo)
    now = timezone.now()
    deposit = Deposit.objects.create(
        user=user, gateway=gateway, reference=new_reference(), amount_kobo=amount_kobo,
        currency=settings.WALLET_CURRENCY, next_check_at=now + next_check_delay(0),
    )
    DEPOSITS.labels(gateway=gateway, status=DepositStatus.INITIALIZED).inc()
    adapter = get_gateway(gateway)
    request = CheckoutRequest(
        reference=deposit.reference, amount=Money(amount_kobo, deposit.currency), email=user.email,
        customer_name=user.get_full_name() if hasattr(user, "get_full_name") else "",
        callback_url=callback_url or f"{settings.SITE_URL}/api/v1/wallet/fund/{deposit.reference}",
        metadata={"reference": deposit.reference,
                  "webhook_url": f"{settings.SITE_URL}/api/v1/payments/webhooks/{gateway}"},
    )
    try:
        session = adapter.create_checkout(request)
    except GatewayError as exc:
        Deposit.objects.filter(pk=deposit.pk).update(status_reason=f"checkout failed: {exc}"[:500])
        raise GatewayFailed() from exc
    Deposit.objects.filter(pk=deposit.pk).update(
        authorization_url=session.authorization_url, gateway_reference=session.gateway_reference[:128]
    )
    deposit.authorization_url, deposit.gateway_reference = session.authorization_url, session.gateway_reference
    return deposit


def _check_max_balance(*, user: Any, amount_kobo: int) -> None:
    """Refuse a checkout that would take the wallet over its KYC tier's maximum balance. A
    soft pre-check (two checkouts may both pass): once a payment is made it is credited
    whatever the limit, because the money has arrived; transfers into virtual accounts
    cannot be refused at all."""
    from wallets.errors import LimitExceeded
    from wallets.limits import limits_for_tier
    from wallets.services import wallet_get_or_create

    limit = limits_for_tier(getattr(user, "kyc_tier", 0)).max_balance_kobo
    # The wallet is opened here if it is new: the deposit will need it anyway.
    if wallet_get_or_create(user_id=user.pk).balance_kobo + amount_kobo > limit:
        raise LimitExceeded(
            "This deposit would take the wallet over the maximum balance of your KYC tier.",
            errors={"limit": "max_balance", "limit_kobo": limit},
        )


# --- confirm and settle ---------------------------------------------------------------------


def deposit_confirm(
    *, deposit_id: int, event_transaction_id: str = "", txn: GatewayTransaction | None = None,
    actor: Actor = SYSTEM, expedite: bool = False,
) -> Deposit:
    """Ask the gateway what happened (unless `txn` is that answer already), then settle.

    Must be called with no transaction open. Raises GatewayError (transient or permanent)
    when the gateway gives no answer; the deposit is then unchanged.
    """
    deposit = Deposit.objects.get(pk=deposit_id)
    if deposit.status in (DepositStatus.SUCCESSFUL, DepositStatus.REVERSED):
        return deposit
    if txn is None:
        txn = fetch_for(deposit, event_transaction_id)
    return deposit_settle(deposit_id=deposit.pk, txn=txn, actor=actor, expedite=expedite)


def deposit_settle(
    *, deposit_id: int, txn: GatewayTransaction, actor: Actor = SYSTEM, expedite: bool = False
) -> Deposit:
    """Apply the gateway's answer. Locks the deposit row; idempotent (already successful or
    reversed -> unchanged; the journal key is unique besides). Posts the funding journal, the
    reseller callback and the receipt in one transaction with the status change."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status in (DepositStatus.SUCCESSFUL, DepositStatus.REVERSED):
            return deposit
        verdict = judge(deposit, txn)
        if verdict.status == DepositStatus.SUCCESSFUL:
            verdict = _credit_or_review(deposit, txn, actor)
        if verdict.status == DepositStatus.NEEDS_REVIEW and deposit.status != DepositStatus.NEEDS_REVIEW:
            _to_review(deposit, txn, verdict.reason, actor)
        elif verdict.status == DepositStatus.FAILED:
            transition(deposit, DepositStatus.FAILED, reason=verdict.reason, next_check_at=None)
        elif expedite and deposit.status == DepositStatus.INITIALIZED and txn.status in (Status.PENDING, Status.UNKNOWN):
            # A webhook says it is paid but the gateway does not yet: ask again soon rather
            # than at the backed-off time.
            soon = timezone.now() + next_check_delay(0)
            Deposit.objects.filter(pk=deposit.pk).filter(
                models.Q(next_check_at__isnull=True) | models.Q(next_check_at__gt=soon)
            ).update(next_check_at=soon)
        return deposit


def _credit_or_review(deposit: Deposit, txn: GatewayTransaction, actor: Actor) -> Verdict:
    """Credit, unless the answer may not credit this deposit (credit_blocker). The savepoint
    turns a twin's win on the one-credit-per-gateway-transaction constraint into a review
    instead of an error; the journal posted inside it is rolled back with it."""
    blocker = credit_blocker(deposit, txn)
    if blocker:
        return Verdict(DepositStatus.NEEDS_REVIEW, blocker)
    try:
        with transaction.atomic():
            _credit(deposit, txn, actor)
    except IntegrityError as exc:
        if ONE_CREDIT_CONSTRAINT not in str(exc):
            raise
        return Verdict(DepositStatus.NEEDS_REVIEW, "the gateway transaction was credited to another deposit")
    return Verdict(DepositStatus.SUCCESSFUL)


def _to_review(deposit: Deposit, txn: GatewayTransaction, reason: str, actor: Actor) -> None:
    transition(deposit, DepositStatus.NEEDS_REVIEW, reason=reason, paid_kobo=txn.amount.minor if txn.amount else None)
    audit_record(action="deposit.review", actor=actor, target=deposit, reason=reason)
    alert_raise(kind="deposit_review", dedupe_key=f"deposit_review:{deposit.reference}",
                message=f"Deposit {deposit.reference} needs review: {reason}")


def _fee_kobo(deposit: Deposit, txn: GatewayTransaction, paid: int) -> int:
    if txn.fee is None or txn.fee.currency != deposit.currency:
        return 0
    return max(0, min(txn.fee.minor, paid))


def _credit(deposit: Deposit, txn: GatewayTransaction, actor: Actor) -> None:
    from payments import ledger  # the wallets adapter: keeps this module importable alone

    assert txn.amount is not None
    paid = txn.amount.minor
    fee = _fee_kobo(deposit, txn, paid)
    bearer = gateway_config(deposit.gateway).get("FEE_BEARER", "platform")
    credited = paid - fee if bearer == "customer" else paid
    journal = ledger.post_funding(deposit=deposit, paid_kobo=paid, fee_kobo=fee, credited_kobo=credited, actor=actor)
    extra: dict[str, Any] = {"paid_kobo": paid, "fee_kobo": fee, "credited_kobo": credited,
                             "journal_key": journal.idempotency_key, "succeeded_at": timezone.now(),
                             "next_check_at": None}
    if deposit.source == Deposit.Source.VIRTUAL_ACCOUNT:
        extra["amount_kobo"] = paid  # a transfer is worth what arrived
    if txn.gateway_transaction_id and not deposit.gateway_transaction_id:
        extra["gateway_transaction_id"] = txn.gateway_transaction_id[:128]
    transition(deposit, DepositStatus.SUCCESSFUL, reason="", **extra)
    audit_record(action="deposit.credit", actor=actor, target=deposit,
                 changes={"paid_kobo": paid, "fee_kobo": fee, "credited_kobo": credited})
    callback_emit(
        user_id=deposit.user_id, event_type="deposit.successful", event_id=f"deposit.successful:{deposit.reference}",
        data={"reference": deposit.reference, "gateway": deposit.gateway, "amount": credited, "paid": paid,
              "fee": fee, "currency": deposit.currency},
    )
    account_tasks.email_notice_send.delay_on_commit(
        deposit.user_id, "deposit_receipt",
        {"reference": deposit.reference, "gateway": deposit.gateway, "credited_naira": _naira(credited),
         "paid_naira": _naira(paid), "fee_naira": _naira(fee)},
    )


def _naira(kobo: int) -> str:
    return f"{kobo // 100:,}.{kobo % 100:02d}"


def transition(deposit: Deposit, to: str, *, reason: str = "", **fields: Any) -> None:
    """The one status move: allowed by Deposit.TRANSITIONS, conditional on the current status."""
    if to not in Deposit.TRANSITIONS[deposit.status]:
        raise ValueError(f"deposit {deposit.reference}: {deposit.status} -> {to} is not allowed")
    moved = Deposit.objects.filter(pk=deposit.pk, status=deposit.status).update(
        status=to, status_reason=reason[:1000], updated_at=timezone.now(), **fields
    )
    if moved != 1:
        raise RuntimeError(f"deposit {deposit.reference} changed under a row lock")  # cannot happen
    for name, value in {"status": to, "status_reason": reason, **fields}.items():
        setattr(deposit, name, value)
    transaction.on_commit(lambda: DEPOSITS.labels(gateway=deposit.gateway, status=to).inc())


# --- abandon -------------------------------------------------------------------------------------


def deposit_abandon_if_stale(*, deposit_id: int, now: Any = None) -> bool:
    """Mark an initialized deposit older than ABANDON_AFTER abandoned (a late payment still
    credits: abandoned -> successful is allowed)."""
    now = now or timezone.now()
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status != DepositStatus.INITIALIZED or deposit.created_at > now - ABANDON_AFTER:
            return False
        transition(deposit, DepositStatus.ABANDONED, reason="no payment before the checkout expired", next_check_at=None)
        return True


def va_deposit_reference(gateway: str, gateway_transaction_id: str) -> str:
    """Deterministic, Paystack-safe reference of a transfer into a virtual account."""
    cleaned = re.sub(r"[^A-Za-z0-9.=-]", "-", gateway_transaction_id)[:80]
    return f"VA-{gateway[:4].upper()}-{cleaned}"


# --- staff --------------------------------------------------------------------------------------


def deposit_resolve(*, deposit_id: int, action: str, actor: Actor, reason: str) -> Deposit:
    """Staff decision on a deposit in `needs_review` (under/over-payment, odd reference):
    "credit" asks the gateway again (no transaction open) and credits what it says was paid,
    in the deposit's currency only, and never a transfer the gateway does not confirm for this
    account nor a gateway transaction that credited another deposit (credit_blocker); "fail"
    marks it failed. Locks the deposit; audited (`deposit.resolve`). Raises REASON_REQUIRED,
    INVALID_STATE, GATEWAY_ERROR."""
    from config.errors import InvalidState, ReasonRequired

    if not reason.strip():
        raise ReasonRequired()
    if action not in ("credit", "fail"):
        raise InvalidState("action must be credit or fail")
    deposit = Deposit.objects.get(pk=deposit_id)
    if deposit.status != DepositStatus.NEEDS_REVIEW:
        raise InvalidState(f"the deposit is {deposit.status}, not needs_review")
    txn = _verified_for_resolve(deposit) if action == "credit" else None
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status != DepositStatus.NEEDS_REVIEW:
            raise InvalidState(f"the deposit is {deposit.status}, not needs_review")
        if txn is not None:
            blocker = credit_blocker(deposit, txn)
            if blocker:
                raise InvalidState(blocker)
            _credit(deposit, txn, actor)
        else:
            transition(deposit, DepositStatus.FAILED, reason=reason, next_check_at=None)
        audit_record(action="deposit.resolve", actor=actor, target=deposit, reason=reason,
                     changes={"action": action, "credited_kobo": deposit.credited_kobo})
    return deposit


def _verified_for_resolve(deposit: Deposit) -> GatewayTransaction:
    from config.errors import InvalidState

    try:
        txn = fetch_for(deposit)
    except GatewayError as exc:
        raise GatewayFailed() from exc
    if txn.status != Status.SUCCEEDED or txn.amount is None or txn.amount.currency != deposit.currency:
        raise InvalidState("the gateway does not report a payment in the deposit's currency")
    return txn


def fetch_for(deposit: Deposit, event_transaction_id: str = "") -> GatewayTransaction:
    """The gateway's verify answer for a deposit (no transaction may be open). A Paystack
    transfer is verified by Paystack's own reference; a checkout by ours and its session id."""
    transfer = deposit.source == Deposit.Source.VIRTUAL_ACCOUNT
    return get_gateway(deposit.gateway).fetch_transaction(
        reference=deposit.gateway_reference if transfer and deposit.gateway == "paystack" else deposit.reference,
        gateway_transaction_id=deposit.gateway_transaction_id or event_transaction_id,
        checkout_id="" if transfer else deposit.gateway_reference,
    )
