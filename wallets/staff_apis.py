"""Wallet API for staff: credits, debits, approvals and freezing. Staff only (never an API
key), each view with the backoffice permission of its action (which staff group holds it:
backoffice/roles.py). Thin views: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from config.api.fields import KoboField, StrictBooleanField, StrictCharField
from config.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from config.api.idempotency import REPLAYED_HEADER, idempotent
from config.api.parsing import parse
from config.api.permissions import HasStaffPermission, NotSuspendedForWrites
from config.errors import ApiError, NotFound
from wallets import selectors
from wallets.errors import RecipientNotFound
from wallets.models import Adjustment, LedgerAccount
from wallets.services import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_request_key,
    wallet_freeze,
    wallet_get_or_create,
    wallet_unfreeze,
)

STAFF_PERMISSIONS = [IsAuthenticated, NotSuspendedForWrites, HasStaffPermission]
ADJUSTMENT_FIELD_CODES = {"amount": "INVALID_AMOUNT", "reason": "REASON_REQUIRED"}
REQUIRED_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=True,
    description="Required (400 IDEMPOTENCY_KEY_REQUIRED without it): one key per intended adjustment. A retry with "
    "the same key and body replays the first answer and never posts twice; for a deliberate second adjustment "
    "use a new key.",
)


class AdjustmentOutput(serializers.ModelSerializer):
    wallet_number = serializers.CharField(source="account.number")
    amount = serializers.IntegerField(source="amount_kobo")
    journal_key = serializers.CharField(source="journal.idempotency_key", allow_null=True, default=None)

    class Meta:
        model = Adjustment
        fields = ["id", "wallet_number", "direction", "amount", "reason", "bank_reference", "status",
                  "journal_key", "created_at", "decided_at"]
        read_only_fields = fields


def _wallet_of(value: str) -> LedgerAccount:
    recipient, _wallets = selectors.recipient_find(recipient=value)
    if recipient is None:
        raise RecipientNotFound()
    return wallet_get_or_create(user_id=recipient.user_id)


def _adjustment_response(adjustment: Adjustment) -> Response:
    replayed = adjustment.replayed
    adjustment = Adjustment.objects.select_related("account", "journal").get(pk=adjustment.pk)
    code = status.HTTP_201_CREATED if adjustment.status == Adjustment.Status.POSTED else status.HTTP_202_ACCEPTED
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(AdjustmentOutput(adjustment).data, status=code, headers=headers)


class _AdjustmentInput(serializers.Serializer):
    wallet = StrictCharField(max_length=254, help_text="Wallet number or the owner's e-mail")
    amount = KoboField()
    reason = StrictCharField(max_length=500)
    confirm_duplicate = StrictBooleanField(
        required=False, default=False,
        help_text="true to make the same adjustment (wallet, direction, amount) you made within "
        "ADJUSTMENT_DUPLICATE_WINDOW_SECONDS again; else 409 DUPLICATE_ADJUSTMENT. Send it with a new Idempotency-Key.",
    )


def _request_adjustment(request: Request, data: dict[str, Any], direction: str) -> Response:
    """The Idempotency-Key is required here (staff JWTs included) and stored on the adjustment
    (UNIQUE per staff member), so a retry finds the first adjustment even when the stored
    answer of config/api/idempotency.py is lost (`_require_key` has checked it is there)."""
    key = request.headers[IDEMPOTENCY_HEADER]
    adjustment = adjustment_request(
        staff=Actor.from_request(request), account_id=_wallet_of(data["wallet"]).pk, direction=direction,
        amount_kobo=data["amount"], reason=data["reason"], bank_reference=data.get("bank_reference") or None,
        request_key=adjustment_request_key(source="api", key=key), confirm_duplicate=data["confirm_duplicate"],
    )
    return _adjustment_response(adjustment)


def _require_key(request: Request) -> None:
    """Before the body is read: a request that could not be retried safely is refused first."""
    if not request.headers.get(IDEMPOTENCY_HEADER):
        raise ApiError(code="IDEMPOTENCY_KEY_REQUIRED")


class AdminFundWalletApi(APIView):
    """Credit a wallet (staff). It waits for a second staff member (202, pending_approval)
    when above ADJUSTMENT_APPROVAL_THRESHOLD_KOBO, or when the wallet's adjustments of the
    Lagos day would pass it. `bank_reference` (for a bank transfer) is unique: one bank
    transfer is credited once."""

    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.adjustment_request"

    class InputSerializer(_AdjustmentInput):
        bank_reference = StrictCharField(
            max_length=100, required=False, allow_blank=True,
            help_text="The bank's reference, stored normalised: upper case, without spaces, hyphens, underscores, "
            "slashes or dots (GTB-1 = gtb 1 = GTB1); other characters are refused. Unique among adjustments not rejected.",
        )

    @extend_schema(operation_id="admin_fund_wallet", request=InputSerializer, parameters=[REQUIRED_KEY],
                   responses={201: AdjustmentOutput, 202: AdjustmentOutput}, tags=["admin"])
    @idempotent()
    def post(self, request: Request) -> Response:
        _require_key(request)
        data = parse(self.InputSerializer, request.data, field_codes=ADJUSTMENT_FIELD_CODES)
        return _request_adjustment(request, data, Adjustment.Direction.CREDIT)


class AdminDebitWalletApi(APIView):
    """Debit a wallet (staff), with a reason; refused on a frozen wallet or beyond the
    available balance. Waits for a second staff member as a credit does."""

    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.adjustment_request"

    @extend_schema(operation_id="admin_debit_wallet", request=_AdjustmentInput, parameters=[REQUIRED_KEY],
                   responses={201: AdjustmentOutput, 202: AdjustmentOutput}, tags=["admin"])
    @idempotent()
    def post(self, request: Request) -> Response:
        _require_key(request)
        data = parse(_AdjustmentInput, request.data, field_codes=ADJUSTMENT_FIELD_CODES)
        return _request_adjustment(request, data, Adjustment.Direction.DEBIT)


class AdminAdjustmentApproveApi(APIView):
    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.adjustment_approve"

    @extend_schema(operation_id="admin_adjustment_approve", request=None, responses={201: AdjustmentOutput},
                   tags=["admin"])
    def post(self, request: Request, adjustment_id: int) -> Response:
        return _adjustment_response(adjustment_approve(staff=Actor.from_request(request), adjustment_id=adjustment_id))


class ReasonInput(serializers.Serializer):
    reason = StrictCharField(max_length=500)


class AdminAdjustmentRejectApi(APIView):
    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.adjustment_approve"

    @extend_schema(operation_id="admin_adjustment_reject", request=ReasonInput, responses={200: AdjustmentOutput},
                   tags=["admin"])
    def post(self, request: Request, adjustment_id: int) -> Response:
        data = parse(ReasonInput, request.data, field_codes={"reason": "REASON_REQUIRED"})
        adjustment = adjustment_reject(staff=Actor.from_request(request), adjustment_id=adjustment_id, reason=data["reason"])
        return Response(AdjustmentOutput(adjustment).data)


class FreezeOutput(serializers.Serializer):
    wallet_number = serializers.CharField()
    status = serializers.CharField()
    changed = serializers.BooleanField()


class AdminWalletFreezeApi(APIView):
    """Freeze (or, with `freeze = False`, unfreeze) a wallet by number, with a reason."""

    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.wallet_freeze"
    freeze = True

    @extend_schema(request=ReasonInput, responses={200: FreezeOutput}, tags=["admin"])
    def post(self, request: Request, number: str) -> Response:
        data = parse(ReasonInput, request.data, field_codes={"reason": "REASON_REQUIRED"})
        wallet = LedgerAccount.objects.filter(number=number, kind=LedgerAccount.Kind.CUSTOMER).first()
        if wallet is None:
            raise NotFound("No such wallet.")
        service = wallet_freeze if self.freeze else wallet_unfreeze
        changed = service(account_id=wallet.pk, reason=data["reason"], actor=Actor.from_request(request))
        wallet.refresh_from_db(fields=["status"])
        return Response({"wallet_number": wallet.number, "status": wallet.status, "changed": changed})


class AdminWalletUnfreezeApi(AdminWalletFreezeApi):
    freeze = False
