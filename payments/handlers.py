"""What each kind of authenticated gateway event does (called by webhooks.webhook_event_process
with no transaction open). Every path asks the gateway before money moves, except a refund
or chargeback whose amount sits in a body the gateway signed; every money step below is
idempotent on its own key, so an event handled twice moves nothing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from config.alerts import alert_raise
from payments import reversals, services
from payments.errors import ReversalNeedsReview
from payments.gateways.base import NotSupported
from payments.gateways.registry import get_gateway
from payments.gateways.types import GatewayTransaction, NormalizedEvent
from payments.models import Deposit, VirtualAccount, WebhookEvent

Outcome = WebhookEvent.Outcome
Result = tuple[str, Deposit | None]


def handle(event: NormalizedEvent, *, body_signed: bool) -> Result:
    """(outcome, deposit). Raises GatewayError (the task retries) and NotYetCredited (a refund
    that came before its funding: the sweep takes it again)."""
    if event.kind in ("funding", "failed"):
        return _payment(event, body_signed=body_signed)
    if event.kind in ("refund", "chargeback"):
        return _reversal(event, body_signed=body_signed)
    if event.kind == "lookup":
        return _lookup(event)
    if event.kind == "dispute_opened":
        return _dispute_opened(event)
    if event.kind in ("va_assigned", "va_failed"):
        from payments import virtual_accounts

        if event.kind == "va_assigned":
            virtual_accounts.virtual_account_assigned(event=event)
        else:
            virtual_accounts.virtual_account_assign_failed(event=event)
    return Outcome.IGNORED, None


def _payment(event: NormalizedEvent, *, body_signed: bool) -> Result:
    deposit = _deposit_for(event, body_signed=body_signed)
    if deposit is None:
        alert_orphan(event)
        return Outcome.ORPHAN, None
    return _settled(deposit, event=event, txn=None)


def _settled(deposit: Deposit, *, event: NormalizedEvent, txn: GatewayTransaction | None) -> Result:
    before = deposit.status
    deposit = services.deposit_confirm(
        deposit_id=deposit.pk, event_transaction_id=event.gateway_transaction_id, txn=txn,
        expedite=event.kind in ("funding", "lookup"),
    )
    if deposit.status == Deposit.Status.REVERSED:
        return Outcome.REVERSED, deposit
    if deposit.status == Deposit.Status.SUCCESSFUL:
        return (Outcome.ALREADY_CREDITED if before == deposit.status else Outcome.CREDITED), deposit
    return {
        Deposit.Status.FAILED: Outcome.FAILED_DEPOSIT, Deposit.Status.NEEDS_REVIEW: Outcome.NEEDS_REVIEW,
    }.get(deposit.status, Outcome.NOT_PAID), deposit


# --- refunds and chargebacks --------------------------------------------------------------------


def _reversal(event: NormalizedEvent, *, body_signed: bool) -> Result:
    deposit = deposit_by_ids(event)
    if deposit is None:
        alert_orphan(event)
        return Outcome.ORPHAN, None
    reversal = event.reversal
    if reversal is None or reversal.amount is None or not body_signed:
        # The amount is not in a body the gateway signed: only its API may say what was taken.
        try:
            reversal = get_gateway(event.gateway).confirm_reversal(event)
        except NotSupported as exc:
            return _reversal_review(event, deposit, f"cannot be confirmed with the gateway: {exc}")
    if reversal.transaction_id and deposit.gateway_transaction_id not in ("", reversal.transaction_id):
        return _reversal_review(event, deposit, f"the gateway says it reverses transaction {reversal.transaction_id}, "
                                f"not {deposit.gateway_transaction_id}")
    try:
        reversals.deposit_reverse(deposit_id=deposit.pk, reversal=reversal, reason=f"{event.gateway} {event.event_type}")
    except ReversalNeedsReview as exc:
        return _reversal_review(event, deposit, str(exc))
    return Outcome.REVERSED, deposit


def _reversal_review(event: NormalizedEvent, deposit: Deposit, reason: str) -> Result:
    alert_raise(
        kind="deposit_reversal_review", dedupe_key=f"reversal_review:{event.gateway}:{event.dedupe_key}"[:255],
        message=f"{event.gateway} {event.event_type} on deposit {deposit.reference} was not posted: {reason}",
        details={"reference": deposit.reference, "event": event.dedupe_key},
    )
    return Outcome.NEEDS_REVIEW, deposit


def _lookup(event: NormalizedEvent) -> Result:
    """A notification naming only the gateway's payment id (Mercado Pago): its verify answer
    says which deposit, whether it is paid, and what was refunded or charged back since."""
    txn = get_gateway(event.gateway).fetch_transaction(gateway_transaction_id=event.gateway_transaction_id)
    deposit = (
        Deposit.objects.filter(gateway=event.gateway, reference=txn.reference).first() if txn.reference else None
    )
    if deposit is None:
        alert_orphan(event)
        return Outcome.ORPHAN, None
    outcome, deposit = _settled(deposit, event=event, txn=txn)
    if deposit is None or deposit.status not in reversals.CREDITED or not txn.reversals:
        return outcome, deposit
    for reversal in txn.reversals:
        try:
            deposit = reversals.deposit_reverse(
                deposit_id=deposit.pk, reversal=reversal, reason=f"{event.gateway} payment {txn.message or 'update'}"
            )
        except ReversalNeedsReview as exc:
            return _reversal_review(event, deposit, str(exc))
    return Outcome.REVERSED, deposit


def _dispute_opened(event: NormalizedEvent) -> Result:
    """Nothing moves until the dispute is lost (then its own event posts the chargeback), but
    staff have hours to answer it (Paystack: 16)."""
    deposit = deposit_by_ids(event)
    alert_raise(
        kind="deposit_dispute", dedupe_key=f"deposit_dispute:{event.gateway}:{event.dedupe_key}"[:255],
        message=f"{event.gateway} {event.event_type}: a dispute on "
        f"{deposit.reference if deposit else event.reference or event.gateway_transaction_id}; respond at the gateway",
        details={"reference": deposit.reference if deposit else event.reference},
    )
    return Outcome.IGNORED, deposit


# --- which deposit ------------------------------------------------------------------------------


def deposit_by_ids(event: NormalizedEvent) -> Deposit | None:
    """By our reference first (the common case, a unique index), then the gateway's ids
    (each indexed): one cheap lookup per step, never an OR across columns."""
    deposits = Deposit.objects.filter(gateway=event.gateway)
    lookups = []
    if event.reference:
        lookups += [{"reference": event.reference}, {"gateway_reference": event.reference}]
    if event.gateway_transaction_id:
        lookups.append({"gateway_transaction_id": event.gateway_transaction_id})
    for lookup in lookups:
        deposit = deposits.filter(**lookup).order_by("pk").first()
        if deposit is not None:
            return deposit
    return None


def _deposit_for(event: NormalizedEvent, *, body_signed: bool) -> Deposit | None:
    """Ours by reference (same gateway only), or a transfer into a virtual account (found by
    the account number, the customer code, or for Flutterwave the account's tx_ref)."""
    if event.virtual_account_number or (event.customer_reference and not event.reference):
        return _virtual_account_deposit(event, body_signed=body_signed)
    deposit = deposit_by_ids(event)
    if deposit is None and event.reference:
        account = VirtualAccount.objects.filter(gateway=event.gateway, customer_reference=event.reference).first()
        if account is not None:  # Flutterwave static accounts: tx_ref is the account's
            return _virtual_account_deposit(event, body_signed=body_signed, account=account)
    return deposit


def _virtual_account_deposit(
    event: NormalizedEvent, *, body_signed: bool, account: VirtualAccount | None = None
) -> Deposit | None:
    """The deposit of one transfer, keyed by the gateway's transaction id. A transaction that
    already belongs to a deposit stays that deposit's: a notification re-pointed at someone
    else's account (possible where the signature does not cover the body) opens nothing new."""
    account = account or _account_named_by(event)
    transaction_id = event.gateway_transaction_id or event.reference
    if account is None or not transaction_id:
        return None
    if event.gateway_transaction_id:
        holder = Deposit.objects.filter(
            gateway=event.gateway, gateway_transaction_id=event.gateway_transaction_id[:128]
        ).order_by("pk").first()
        if holder is not None:
            return holder
    deposit, _ = Deposit.objects.get_or_create(
        reference=services.va_deposit_reference(event.gateway, transaction_id),
        defaults={
            "user_id": account.user_id, "gateway": event.gateway, "source": Deposit.Source.VIRTUAL_ACCOUNT,
            "amount_kobo": event.amount.minor if event.amount and event.amount.minor > 0 else 1,
            "currency": event.amount.currency if event.amount else settings.WALLET_CURRENCY,
            "gateway_reference": event.reference[:128], "gateway_transaction_id": event.gateway_transaction_id[:128],
            "virtual_account": account, "account_link_signed": body_signed,
            "next_check_at": timezone.now() + services.next_check_delay(0),
        },
    )
    return deposit


def _account_named_by(event: NormalizedEvent) -> VirtualAccount | None:
    accounts = VirtualAccount.objects.filter(gateway=event.gateway)
    account = None
    if event.virtual_account_number:
        account = accounts.filter(account_number=event.virtual_account_number).first()
    if account is None and event.customer_reference:
        account = accounts.filter(customer_reference=event.customer_reference).first()
    return account


def alert_orphan(event: NormalizedEvent) -> None:
    alert_raise(
        kind="webhook_orphan", dedupe_key=f"webhook_orphan:{event.gateway}:{event.dedupe_key}"[:255],
        message=f"{event.gateway} {event.event_type} matches no deposit or virtual account",
        details={"reference": event.reference, "gateway_transaction_id": event.gateway_transaction_id,
                 "account_number": event.virtual_account_number},
    )
