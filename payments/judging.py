"""What a gateway's answer means for a deposit: pure comparisons (judge) and the checks that
read other rows before a credit (credit_blocker). Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from payments.gateways.types import GatewayTransaction, Status
from payments.models import Deposit, VirtualAccount

DepositStatus = Deposit.Status


@dataclass(frozen=True)
class Verdict:
    status: str  # the Deposit.Status to move to, or "" to stay
    reason: str = ""


def judge(deposit: Deposit, txn: GatewayTransaction) -> Verdict:
    """Compare the gateway's answer with what we expect. Pure."""
    if txn.status == Status.SUCCEEDED:
        if txn.amount is None:
            return Verdict(DepositStatus.NEEDS_REVIEW, "gateway reported success without a usable amount")
        if txn.amount.currency != deposit.currency:
            return Verdict(DepositStatus.NEEDS_REVIEW, f"currency {txn.amount.currency} != {deposit.currency}")
        if deposit.source == Deposit.Source.CHECKOUT:
            if txn.reference and txn.reference != deposit.reference:
                return Verdict(DepositStatus.NEEDS_REVIEW, f"gateway reference {txn.reference!r} != ours")
            if txn.amount.minor != deposit.amount_kobo:
                kind = "underpaid" if txn.amount.minor < deposit.amount_kobo else "overpaid"
                return Verdict(DepositStatus.NEEDS_REVIEW, f"{kind}: paid {txn.amount.minor}, expected {deposit.amount_kobo}")
        elif (
            deposit.gateway_transaction_id and txn.gateway_transaction_id
            and txn.gateway_transaction_id != deposit.gateway_transaction_id
        ):
            return Verdict(DepositStatus.NEEDS_REVIEW, "gateway transaction id does not match the transfer")
        if txn.amount.minor <= 0:
            return Verdict(DepositStatus.NEEDS_REVIEW, "non-positive amount")
        return Verdict(DepositStatus.SUCCESSFUL)
    if txn.status == Status.FAILED and deposit.status == DepositStatus.INITIALIZED:
        return Verdict(DepositStatus.FAILED, txn.message or "the gateway reports the payment failed")
    return Verdict("", txn.message)


def credit_blocker(deposit: Deposit, txn: GatewayTransaction) -> str:
    """Why this (successful, right amount) answer must still not credit this deposit, or "":
    a transfer whose virtual account the gateway does not confirm, or a gateway transaction
    that already credited another deposit. Reads only; called under the deposit lock."""
    if deposit.source == Deposit.Source.VIRTUAL_ACCOUNT:
        mismatch = _account_mismatch(deposit, txn)
        if mismatch:
            return mismatch
    transaction_id = (txn.gateway_transaction_id or deposit.gateway_transaction_id)[:128]
    if not transaction_id:
        return ""
    other = (
        Deposit.objects.filter(gateway=deposit.gateway, gateway_transaction_id=transaction_id,
                               status__in=(DepositStatus.SUCCESSFUL, DepositStatus.REVERSED))
        .exclude(pk=deposit.pk).values_list("reference", flat=True).first()
    )
    return f"gateway transaction {transaction_id} already credited deposit {other}" if other else ""


def _account_mismatch(deposit: Deposit, txn: GatewayTransaction) -> str:
    """A transfer credits the owner of the account it was paid into, so the gateway itself
    must say which account that was: in the verify answer, or in a notification signed over
    its body. A notification proving only its origin (Flutterwave's verif-hash) can have had
    its account reference swapped for someone else's."""
    account = deposit.virtual_account
    if account is None:
        return "a transfer deposit without its virtual account"
    if txn.account_number and not VirtualAccount.objects.filter(
        gateway=deposit.gateway, account_number=txn.account_number, user_id=deposit.user_id
    ).exists():
        return f"the gateway says account {txn.account_number} was paid, not one of this customer's"
    if txn.account_reference and txn.account_reference != account.customer_reference:
        return f"the gateway says the transfer belongs to {txn.account_reference!r}, not {account.customer_reference!r}"
    if not (txn.account_number or txn.account_reference or deposit.account_link_signed):
        return "neither the gateway's answer nor a body-signed notification names the virtual account"
    return ""
