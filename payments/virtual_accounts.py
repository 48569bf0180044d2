"""Virtual bank accounts whose transfers fund a wallet: Paystack dedicated (assigned
asynchronously), Monnify reserved (one NUBAN per partner bank) and Flutterwave static.

The BVN/NIN is sent to the gateway and forgotten: only its type and last four digits are
kept (a plain hash of 11 digits is brute-forced in seconds), and no log line carries it
(config.logs redacts keys named bvn/nin; the adapters never log request bodies).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, transaction

from audit.services import Actor, audit_record
from payments.errors import GatewayFailed, InvalidIdNumber, VirtualAccountExists
from payments.gateways.base import GatewayError, GatewayPermanentError
from payments.gateways.registry import get_gateway
from payments.gateways.types import NormalizedEvent, VirtualAccountInfo
from payments.gateways.types import VirtualAccountRequest as VARequest
from payments.models import VirtualAccount, VirtualAccountRequest
from payments.services import gateway_require_enabled

VA_GATEWAYS = ("paystack", "monnify", "flutterwave")
# What each gateway insists on (gateways.md §1-3): Monnify bvn or nin, Flutterwave bvn.
ID_REQUIRED = {"monnify": ("bvn", "nin"), "flutterwave": ("bvn",), "paystack": ()}


def virtual_accounts_for_user(*, user_id: int) -> Any:
    # pk last: a stable order for page-number pagination.
    return VirtualAccount.objects.filter(user_id=user_id, active=True).order_by("gateway", "bank_name", "pk")


def _validate_id(gateway: str, id_type: str, id_number: str) -> None:
    if id_type not in ("", "bvn", "nin") or (id_number and not id_type):
        raise InvalidIdNumber("id_type must be bvn or nin.")
    needed = ID_REQUIRED[gateway]
    if needed and (id_type not in needed or not id_number):
        raise InvalidIdNumber(f"{gateway} needs the customer's {' or '.join(needed).upper()}.")
    if id_number and (len(id_number) != 11 or not id_number.isdigit()):
        raise InvalidIdNumber()


def virtual_account_request(
    *, user: Any, gateway: str, id_type: str = "", id_number: str = "", actor: Actor
) -> VirtualAccountRequest:
    """Ask `gateway` for an account for `user`. One request per user and gateway (UNIQUE);
    a pending or assigned one is returned as it is. The gateway call runs with no
    transaction open. Raises UNKNOWN_GATEWAY, GATEWAY_DISABLED, VALIDATION_ERROR (no virtual
    accounts there), INVALID_ID_NUMBER, ALREADY_EXISTS, GATEWAY_ERROR."""
    gateway_require_enabled(gateway)
    if gateway not in VA_GATEWAYS:
        from config.errors import ApiError

        raise ApiError(code="VALIDATION_ERROR", errors={"gateway": [f"{gateway} offers no virtual accounts."]})
    _validate_id(gateway, id_type, id_number)
    if VirtualAccount.objects.filter(user_id=user.pk, gateway=gateway, active=True).exists():
        raise VirtualAccountExists("You already have an account with this gateway.")
    request = _claim_request(user=user, gateway=gateway, id_type=id_type, id_number=id_number)
    if request.status != VirtualAccountRequest.Status.PENDING or request.error == "in progress":
        return request
    try:
        infos = get_gateway(gateway).create_virtual_account(VARequest(
            account_reference=request.account_reference, email=user.email, first_name=user.first_name,
            last_name=user.last_name, phone=getattr(user, "phone", ""),
            bvn=id_number if id_type == "bvn" else "", nin=id_number if id_type == "nin" else "",
        ))
    except GatewayError as exc:
        status = VirtualAccountRequest.Status.FAILED if isinstance(exc, GatewayPermanentError) else request.status
        VirtualAccountRequest.objects.filter(pk=request.pk).update(status=status, error=str(exc)[:500])
        raise GatewayFailed() from exc
    if infos and all(info.pending for info in infos):
        VirtualAccountRequest.objects.filter(pk=request.pk).update(error="in progress")
        request.error = "in progress"
        return request
    _store(user_id=user.pk, gateway=gateway, infos=infos, actor=actor)
    VirtualAccountRequest.objects.filter(pk=request.pk).update(status=VirtualAccountRequest.Status.ASSIGNED, error="")
    request.status = VirtualAccountRequest.Status.ASSIGNED
    return request


def _claim_request(*, user: Any, gateway: str, id_type: str, id_number: str) -> VirtualAccountRequest:
    last4 = id_number[-4:] if id_number else ""
    try:
        with transaction.atomic():
            return VirtualAccountRequest.objects.create(
                user_id=user.pk, gateway=gateway, id_type=id_type, id_last4=last4,
                account_reference=f"VA{user.pk}-{gateway[:3].upper()}-{secrets.token_hex(4)}",
            )
    except IntegrityError:
        request = VirtualAccountRequest.objects.get(user_id=user.pk, gateway=gateway)
    if request.status == VirtualAccountRequest.Status.FAILED:
        # A refused request may be tried again (e.g. with the right BVN).
        VirtualAccountRequest.objects.filter(pk=request.pk, status=VirtualAccountRequest.Status.FAILED).update(
            status=VirtualAccountRequest.Status.PENDING, id_type=id_type, id_last4=last4, error=""
        )
        request.refresh_from_db()
    return request


def _store(*, user_id: int, gateway: str, infos: list[VirtualAccountInfo], actor: Actor) -> list[VirtualAccount]:
    stored = []
    with transaction.atomic():
        for info in infos:
            account, created = VirtualAccount.objects.get_or_create(
                gateway=gateway, account_number=info.account_number,
                defaults={"user_id": user_id, "bank_name": info.bank_name, "bank_code": info.bank_code,
                          "account_name": info.account_name, "customer_reference": info.customer_reference},
            )
            if created:
                audit_record(action="virtual_account.create", actor=actor, target=account,
                             changes={"gateway": gateway, "bank": info.bank_name})
            stored.append(account)
    return stored


def virtual_account_assigned(*, event: NormalizedEvent) -> list[VirtualAccount]:
    """Paystack's `dedicatedaccount.assign.success`: store the account for the user whose
    pending request carries the customer's e-mail."""
    data = (event.raw or {}).get("data") or {}
    account = data.get("dedicated_account") or {}
    customer = data.get("customer") or {}
    email = str(customer.get("email") or "").lower()
    request = VirtualAccountRequest.objects.filter(gateway=event.gateway, user__email__iexact=email).first()
    if request is None or not account.get("account_number"):
        return []
    bank = account.get("bank") or {}
    info = VirtualAccountInfo(
        gateway=event.gateway, account_number=str(account["account_number"]), bank_name=str(bank.get("name") or ""),
        account_name=str(account.get("account_name") or ""), bank_code=str(bank.get("id") or ""),
        customer_reference=str(customer.get("customer_code") or ""),
    )
    stored = _store(user_id=request.user_id, gateway=event.gateway, infos=[info], actor=Actor.system("paystack"))
    VirtualAccountRequest.objects.filter(pk=request.pk).update(status=VirtualAccountRequest.Status.ASSIGNED, error="")
    return stored


def virtual_account_assign_failed(*, event: NormalizedEvent) -> int:
    """Paystack's `dedicatedaccount.assign.failed` (identification failed): the pending
    request of the customer with that e-mail becomes `failed`, so the customer may ask again
    (with another BVN). Returns the number of requests moved."""
    data = (event.raw or {}).get("data") or {}
    customer = data.get("customer") or {}
    identification = data.get("identification") or {}
    email = str(customer.get("email") or "").lower()
    if not email:
        return 0
    reason = str(identification.get("reason") or data.get("reason") or identification.get("status") or "failed")
    return VirtualAccountRequest.objects.filter(
        gateway=event.gateway, user__email__iexact=email, status=VirtualAccountRequest.Status.PENDING
    ).update(status=VirtualAccountRequest.Status.FAILED, error=f"assignment failed: {reason}"[:500])
