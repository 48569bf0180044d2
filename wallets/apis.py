"""Wallet API for customers: balance, transactions, statement and transfers (the staff
endpoints are in wallets/staff_apis.py). Thin views: parse, call one service or selector,
render."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.errors import PinRequired
from accounts.services import pin_check
from audit.services import Actor
from config.api.fields import KoboField, PinField, StrictCharField
from config.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from config.api.idempotency import idempotent
from config.api.pagination import CursorPagination
from config.api.parsing import parse
from config.errors import ApiError
from wallets import clock, selectors
from wallets.errors import RecipientNotFound
from wallets.limits import limits_for_tier
from wallets.models import Entry, Journal, LedgerAccount
from wallets.renderers import CSVRenderer, JSONErrorsMixin
from wallets.services import (
    wallet_get_or_create,
    wallet_transfer,
)

STATEMENT_MAX_DAYS = 366
CSV_MAX_ROWS = 50_000


# --- customer: wallet -------------------------------------------------------------------------


class WalletLimitsOutput(serializers.Serializer):
    single = serializers.IntegerField()
    daily = serializers.IntegerField()
    daily_used = serializers.IntegerField()
    daily_remaining = serializers.IntegerField()
    max_balance = serializers.IntegerField()


class WalletOutput(serializers.Serializer):
    wallet_number = serializers.CharField(source="number")
    currency = serializers.CharField()
    balance = serializers.IntegerField(source="balance_kobo")
    available = serializers.IntegerField(source="available_kobo")
    held = serializers.IntegerField(source="held_kobo")
    status = serializers.CharField()
    limits = serializers.SerializerMethodField()

    @extend_schema_field(WalletLimitsOutput)
    def get_limits(self, wallet: LedgerAccount) -> dict[str, int]:
        limits = self.context["limits"]
        used = wallet.outflow_kobo if wallet.outflow_day == clock.lagos_today() else 0
        return {
            "single": limits.single_kobo, "daily": limits.daily_kobo, "daily_used": used,
            "daily_remaining": max(0, limits.daily_kobo - used), "max_balance": limits.max_balance_kobo,
        }


class WalletMeApi(APIView):
    @extend_schema(operation_id="wallet_me", responses={200: WalletOutput}, tags=["wallet"])
    def get(self, request: Request) -> Response:
        wallet = wallet_get_or_create(user_id=request.user.pk)
        return Response(WalletOutput(wallet, context={"limits": limits_for_tier(request.user.kyc_tier)}).data)


# --- customer: transactions -------------------------------------------------------------------


class TransactionFilters(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Journal.Kind.values, required=False)
    status = serializers.ChoiceField(choices=selectors.TRANSACTION_STATUSES, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    reference = serializers.CharField(max_length=100, required=False)
    cursor = serializers.CharField(max_length=200, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=100, required=False)


class TransactionOutput(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    # Plain strings in the schema (documented here) so the enum names of other apps' `status`
    # fields do not collide: pending | successful | failed | reversed, credit | debit.
    status = serializers.CharField(help_text="pending | successful | failed | reversed")
    direction = serializers.CharField(help_text="credit | debit")
    amount = serializers.IntegerField(source="amount_kobo")
    reference = serializers.CharField()
    narration = serializers.CharField()
    balance_after = serializers.IntegerField(source="balance_after_kobo", allow_null=True)
    created_at = serializers.DateTimeField()


class TransactionPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    results = TransactionOutput(many=True)


def _check_range(filters: dict[str, Any]) -> None:
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    if date_from and date_to and date_from > date_to:
        raise ApiError(code="VALIDATION_ERROR", detail="date_from is after date_to.",
                       errors={"date_from": ["Must not be after date_to."]})


class TransactionsMeApi(APIView):
    """Newest first: deposits, purchases, transfers, refunds, reversals, adjustments and
    chargebacks, with purchases in progress (active holds: "pending") and failed purchases
    (released holds: "failed"). Forward-only cursor pagination (`next`)."""

    @extend_schema(operation_id="transactions_me", parameters=[TransactionFilters],
                   responses={200: TransactionPageOutput}, tags=["wallet"])
    def get(self, request: Request) -> Response:
        filters = parse(TransactionFilters, request.query_params)
        _check_range(filters)
        cursor = None
        if filters.get("cursor"):
            cursor = selectors.decode_cursor(filters["cursor"])
            if cursor is None:
                raise ApiError(code="VALIDATION_ERROR", detail="Invalid cursor.", errors={"cursor": ["Invalid cursor."]})
        wallet = wallet_get_or_create(user_id=request.user.pk)
        items, next_key = selectors.transactions_page(
            account_id=wallet.pk, filters=filters, cursor=cursor, limit=filters.get("page_size", 20)
        )
        next_url = None
        if next_key is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", selectors.encode_cursor(next_key))
        return Response({"next": next_url, "results": TransactionOutput(items, many=True).data})


# --- customer: statement ----------------------------------------------------------------------


class StatementFilters(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


class StatementLineOutput(serializers.Serializer):
    date = serializers.DateTimeField(source="created_at")
    reference = serializers.CharField(source="journal.reference")
    kind = serializers.CharField(source="journal.kind")
    narration = serializers.CharField(source="journal.memo")
    amount = serializers.IntegerField(source="amount_kobo")
    balance = serializers.IntegerField(source="balance_after_kobo")


class StatementOutput(serializers.Serializer):
    wallet_number = serializers.CharField()
    currency = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    opening_balance = serializers.IntegerField()
    closing_balance = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StatementLineOutput(many=True)


class StatementPagination(CursorPagination):
    ordering = "id"  # oldest first: the running balance reads down the page


def _statement_range(filters: dict[str, Any]) -> tuple[date, date]:
    today = clock.lagos_today()
    date_to = filters.get("date_to") or today
    date_from = filters.get("date_from") or date_to.replace(day=1)
    if date_from > date_to:
        raise ApiError(code="VALIDATION_ERROR", detail="date_from is after date_to.",
                       errors={"date_from": ["Must not be after date_to."]})
    if date_to - date_from > timedelta(days=STATEMENT_MAX_DAYS):
        raise ApiError(code="VALIDATION_ERROR", detail=f"At most {STATEMENT_MAX_DAYS} days per statement.",
                       errors={"date_from": [f"The range is limited to {STATEMENT_MAX_DAYS} days."]})
    return date_from, date_to


def _csv_entries(entries: QuerySet[Entry]) -> list[Entry]:
    """At most CSV_MAX_ROWS entries; more is refused rather than cut short, since a statement
    silently missing its last entries would not add up to its closing balance."""
    rows = list(entries[: CSV_MAX_ROWS + 1])
    if len(rows) > CSV_MAX_ROWS:
        raise ApiError(
            code="STATEMENT_TOO_LARGE",
            detail=f"More than {CSV_MAX_ROWS} entries in this range; ask for a shorter date range.",
            errors={"max_rows": CSV_MAX_ROWS},
        )
    return rows


class StatementApi(JSONErrorsMixin, APIView):
    """Entries with their running balance over a date range (Lagos days; default: this month
    so far). JSON is cursor-paginated, oldest first; `?format=csv` (or `Accept: text/csv`)
    returns the whole range as CSV, or 400 STATEMENT_TOO_LARGE over CSV_MAX_ROWS entries."""

    renderer_classes = [JSONRenderer, CSVRenderer]
    csv_columns = ["date", "reference", "kind", "narration", "amount", "balance"]

    @extend_schema(operation_id="wallet_statement", parameters=[StatementFilters],
                   responses={200: StatementOutput, (200, "text/csv"): OpenApiTypes.STR}, tags=["wallet"])
    def get(self, request: Request) -> Response:
        date_from, date_to = _statement_range(parse(StatementFilters, request.query_params))
        wallet = wallet_get_or_create(user_id=request.user.pk)
        entries = selectors.statement_entries(account_id=wallet.pk, date_from=date_from, date_to=date_to)
        if request.accepted_renderer.format == "csv":
            rows = StatementLineOutput(_csv_entries(entries), many=True).data
            filename = f"statement-{wallet.number}-{date_from}-{date_to}.csv"
            return Response(rows, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        paginator = StatementPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        opening, closing = selectors.statement_balances(account_id=wallet.pk, date_from=date_from, date_to=date_to)
        return Response({
            "wallet_number": wallet.number, "currency": wallet.currency, "date_from": date_from, "date_to": date_to,
            "opening_balance": opening, "closing_balance": closing,
            "next": paginator.get_next_link(), "previous": paginator.get_previous_link(),
            "results": StatementLineOutput(page, many=True).data,
        })


# --- customer: transfer -----------------------------------------------------------------------


class TransferOutput(serializers.Serializer):
    reference = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    recipient = serializers.DictField(child=serializers.CharField(allow_null=True))
    narration = serializers.CharField()
    balance = serializers.IntegerField()
    created_at = serializers.DateTimeField()


def _find_recipient(value: str, *, sender_user_id: int | None = None) -> tuple[selectors.Recipient, list[LedgerAccount]]:
    recipient, wallets = selectors.recipient_find(recipient=value, sender_user_id=sender_user_id)
    if recipient is None:
        raise RecipientNotFound()
    return recipient, wallets


class TransferApi(APIView):
    """Send money to another wallet by wallet number or e-mail. With a JWT the transaction
    PIN is required; an API key with the `transfer` scope needs none but must send an
    Idempotency-Key. The same Idempotency-Key replays the first answer."""

    api_key_scope = "transfer"

    class InputSerializer(serializers.Serializer):
        recipient = StrictCharField(max_length=254)
        amount = KoboField()
        pin = PinField(required=False)
        narration = StrictCharField(max_length=100, required=False, allow_blank=True, default="")

    @extend_schema(operation_id="wallet_transfer", request=InputSerializer, responses={201: TransferOutput},
                   parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=False)],
                   tags=["wallet"])
    @idempotent()
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"amount": "INVALID_AMOUNT", "pin": "PIN_INVALID"})
        if getattr(request, "api_key", None) is None:
            if "pin" not in data:
                raise PinRequired()
            pin_check(user=request.user, pin=data["pin"])
        recipient, wallets = _find_recipient(data["recipient"], sender_user_id=request.user.pk)
        journal = wallet_transfer(
            sender_user_id=request.user.pk, recipient_user_id=recipient.user_id, amount_kobo=data["amount"],
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER), narration=data["narration"],
            limits=limits_for_tier(request.user.kyc_tier), recipient_limits=limits_for_tier(recipient.kyc_tier),
            actor=Actor.from_request(request), known_wallets=wallets, recipient_has_callbacks=recipient.has_callbacks,
        )
        return Response(_transfer_output(journal, recipient), status=status.HTTP_201_CREATED)


def _transfer_output(journal: Journal, recipient: selectors.Recipient) -> dict[str, Any]:
    """The sender's new balance comes with the posting (`sender_balance_kobo`); a replay of an
    earlier transfer reads it from the sender's entry."""
    balance = getattr(journal, "sender_balance_kobo", None)
    entry = None
    if balance is None:
        entry = journal.entries.filter(amount_kobo__lt=0).get()
    amount = -entry.amount_kobo if entry else journal.metadata["amount_kobo"]
    # The shape of TransferOutput (the schema), built directly: a serializer instance per
    # transfer cost more than the rest of the rendering.
    return {
        "reference": journal.reference, "amount": amount, "currency": settings.WALLET_CURRENCY,
        "recipient": {"wallet_number": journal.metadata.get("recipient_wallet"), "name": recipient.display_name},
        "narration": journal.memo, "balance": entry.balance_after_kobo if entry else balance,
        "created_at": _DATETIME.to_representation(journal.created_at),
    }


_DATETIME = serializers.DateTimeField()  # stateless: renders as every other API date-time
