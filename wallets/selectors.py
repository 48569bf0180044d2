"""Reads on the ledger: a customer's transactions (with holds in progress), statements,
recipients, system-account balances, a wallet's staff adjustments of the day and the last
invariant check."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from accounts.callbacks import endpoints_exist_sql
from wallets import clock
from wallets.clock import LAGOS
from wallets.models import Adjustment, Entry, Hold, Journal, LedgerAccount, LedgerCheck

# --- recipients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: int
    kyc_tier: int
    wallet_number: str | None
    display_name: str
    has_callbacks: bool | None = None  # an active callback endpoint (None: not looked at)


@dataclass(frozen=True)
class _Holder:
    """What a transfer needs of the recipient's user row."""

    pk: int
    is_active: bool
    kyc_tier: int
    first_name: str
    last_name: str
    email: str
    has_callbacks: bool | None = None


def _display_name(user: Any) -> str:
    """First name and last initial ("Ade B."): enough to confirm, not a full identity."""
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    if first or last:
        return f"{first} {last[:1] + '.' if last else ''}".strip()
    return user.email.split("@")[0][:2] + "***"


def recipient_find(*, recipient: str, sender_user_id: int | None = None) -> tuple[Recipient | None, list[LedgerAccount]]:
    """A wallet number (10 digits) or an e-mail address -> the active user behind it, and the
    wallets of both parties read on the way (given to `wallet_transfer` as `known_wallets`,
    saving it a query). By number: one fixed query for both wallets and the recipient (every
    transfer by wallet number runs it). By e-mail: the address is matched exactly in lower
    case (stored lower-cased, so the unique index serves it)."""
    value = (recipient or "").strip()
    if value.isdigit() and len(value) == 10:
        wallets, user = _by_number(value, sender_user_id)
        wallet = next((w for w in wallets if w.number == value), None)
    elif "@" in value:
        user = get_user_model().objects.filter(email=value.lower()).first()
        ids = [pk for pk in (user.pk if user else None, sender_user_id) if pk is not None]
        wallets = list(LedgerAccount.objects.filter(kind=LedgerAccount.Kind.CUSTOMER, user_id__in=ids)) if ids else []
        wallet = next((w for w in wallets if user is not None and w.user_id == user.pk), None)
    else:
        return None, []
    if user is None or not user.is_active:
        return None, wallets
    found = Recipient(
        user_id=user.pk, kyc_tier=user.kyc_tier, wallet_number=wallet.number if wallet else None,
        display_name=_display_name(user), has_callbacks=getattr(user, "has_callbacks", None),
    )
    return found, wallets


@cache
def _by_number_statement() -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    fields = [field.attname for field in LedgerAccount._meta.concrete_fields]
    columns = ", ".join("a." + quote(LedgerAccount._meta.get_field(name).column) for name in fields)
    users = quote(get_user_model()._meta.db_table)
    sql = (
        f"SELECT {columns}, u.is_active, u.kyc_tier, u.first_name, u.last_name, u.email, "  # noqa: S608 - identifiers from model metadata
        f"{endpoints_exist_sql('u.id')} "
        f"FROM {quote(LedgerAccount._meta.db_table)} a JOIN {users} u ON u.id = a.user_id "
        "WHERE a.kind = 'customer' AND (a.number = %s OR a.user_id = %s)"
    )
    return sql, fields


def _by_number(number: str, sender_user_id: int | None) -> tuple[list[LedgerAccount], _Holder | None]:
    """The wallet numbered `number` and the sender's, and the number's holder, in one query."""
    sql, fields = _by_number_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [number, sender_user_id])
        rows = cursor.fetchall()
    wallets, holder = [], None
    for row in rows:
        wallet = LedgerAccount.from_db(connection.alias, fields, row[: len(fields)])
        wallets.append(wallet)
        if wallet.number == number:
            holder = _Holder(wallet.user_id, *row[len(fields):])
    return wallets, holder


# --- dates ----------------------------------------------------------------------------------


def lagos_day_bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    """[start of date_from, start of the day after date_to) in Africa/Lagos, as aware datetimes."""
    start = datetime.combine(date_from, time.min, tzinfo=LAGOS) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=LAGOS) if date_to else None
    return start, end


# --- transactions ---------------------------------------------------------------------------

TRANSACTION_STATUSES = ("pending", "successful", "failed", "reversed")
ENTRY, HOLD = 0, 1  # tie-break rank of the two streams at the same instant


@dataclass(frozen=True)
class TransactionItem:
    id: str
    kind: str
    status: str
    direction: str
    amount_kobo: int
    reference: str
    narration: str
    balance_after_kobo: int | None
    created_at: datetime
    sort_key: tuple[datetime, int, int]


def encode_cursor(key: tuple[datetime, int, int]) -> str:
    raw = json.dumps([key[0].isoformat(), key[1], key[2]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, rank, pk = json.loads(raw)
        return datetime.fromisoformat(at), int(rank), int(pk)
    except (ValueError, TypeError):
        return None


def _before(rank: int, cursor: tuple[datetime, int, int] | None) -> Q:
    """Rows of stream `rank` strictly after `cursor` in (created_at, rank, id) descending order."""
    if cursor is None:
        return Q()
    at, cursor_rank, pk = cursor
    earlier = Q(created_at__lt=at)
    if rank < cursor_rank:
        return earlier | Q(created_at=at)
    if rank == cursor_rank:
        return earlier | Q(created_at=at, pk__lt=pk)
    return earlier


def _entries(account_id: int, filters: dict[str, Any]) -> QuerySet[Entry] | None:
    status = filters.get("status")
    if status in ("pending", "failed"):
        return None
    reversed_journal = Journal.objects.filter(reversal_of=OuterRef("journal_id"))
    entries = Entry.objects.filter(account_id=account_id).select_related("journal").annotate(
        is_reversed=Exists(reversed_journal)
    )
    if status == "successful":
        entries = entries.filter(is_reversed=False)
    elif status == "reversed":
        entries = entries.filter(is_reversed=True)
    if filters.get("kind"):
        entries = entries.filter(journal__kind=filters["kind"])
    if filters.get("reference"):
        entries = entries.filter(journal__reference=filters["reference"])
    return entries


def _holds(account_id: int, filters: dict[str, Any]) -> QuerySet[Hold] | None:
    """Holds still active ("pending": a purchase in progress) or released ("failed": nothing
    was spent). A captured hold appears as its capture entry instead."""
    status = filters.get("status")
    statuses = {"pending": ["active"], "failed": ["released"], None: ["active", "released"]}.get(status)
    if statuses is None or filters.get("kind") not in (None, "", Journal.Kind.PURCHASE):
        return None
    holds = Hold.objects.filter(account_id=account_id, status__in=statuses)
    if filters.get("reference"):
        holds = holds.filter(reference=filters["reference"])
    return holds


def _entry_item(entry: Entry) -> TransactionItem:
    journal = entry.journal
    return TransactionItem(
        id=f"entry:{entry.pk}", kind=journal.kind, status="reversed" if entry.is_reversed else "successful",
        direction="credit" if entry.amount_kobo > 0 else "debit", amount_kobo=abs(entry.amount_kobo),
        reference=journal.reference, narration=journal.memo, balance_after_kobo=entry.balance_after_kobo,
        created_at=entry.created_at, sort_key=(entry.created_at, ENTRY, entry.pk),
    )


def _hold_item(hold: Hold) -> TransactionItem:
    return TransactionItem(
        id=f"hold:{hold.pk}", kind=Journal.Kind.PURCHASE.value, status="pending" if hold.status == "active" else "failed",
        direction="debit", amount_kobo=hold.amount_kobo, reference=hold.reference, narration=hold.memo,
        balance_after_kobo=None, created_at=hold.created_at, sort_key=(hold.created_at, HOLD, hold.pk),
    )


def transactions_page(
    *, account_id: int, filters: dict[str, Any], cursor: tuple[datetime, int, int] | None, limit: int
) -> tuple[list[TransactionItem], tuple[datetime, int, int] | None]:
    """A page of the wallet's activity, newest first: posted entries (deposits, purchases,
    transfers, refunds, reversals, adjustments, chargebacks) merged with its holds, by
    (created_at, id). Returns the items and the cursor of the next page (None at the end)."""
    start, end = lagos_day_bounds(filters.get("date_from"), filters.get("date_to"))
    streams: list[list[TransactionItem]] = []
    for rank, queryset, to_item in ((ENTRY, _entries(account_id, filters), _entry_item),
                                    (HOLD, _holds(account_id, filters), _hold_item)):
        if queryset is None:
            continue
        if start:
            queryset = queryset.filter(created_at__gte=start)
        if end:
            queryset = queryset.filter(created_at__lt=end)
        rows = queryset.filter(_before(rank, cursor)).order_by("-created_at", "-pk")[: limit + 1]
        streams.append([to_item(row) for row in rows])
    merged = sorted((item for stream in streams for item in stream), key=lambda item: item.sort_key, reverse=True)
    page = merged[:limit]
    next_cursor = page[-1].sort_key if len(merged) > limit else None
    return page, next_cursor


# --- statements -----------------------------------------------------------------------------


def statement_entries(*, account_id: int, date_from: date, date_to: date) -> QuerySet[Entry]:
    """The wallet's entries in [date_from, date_to] (Lagos days), oldest first, with their
    journals: the running balance reads top to bottom."""
    start, end = lagos_day_bounds(date_from, date_to)
    return (
        Entry.objects.filter(account_id=account_id, created_at__gte=start, created_at__lt=end)
        .select_related("journal")
        .order_by("id")
    )


def statement_balances(*, account_id: int, date_from: date, date_to: date) -> tuple[int, int]:
    """(opening, closing) balance of the wallet for the range: the running balance of the last
    entry before it starts and of the last entry inside it."""
    start, end = lagos_day_bounds(date_from, date_to)
    entries = Entry.objects.filter(account_id=account_id).order_by("-id").values_list("balance_after_kobo", flat=True)
    opening = entries.filter(created_at__lt=start).first() or 0
    closing = entries.filter(created_at__lt=end).first() or 0
    return opening, closing


# --- system accounts and checks ------------------------------------------------------------


def account_balance_kobo(account: LedgerAccount) -> int:
    """The balance of any account: the row for a wallet, the sum of entries for a system
    account (their rows are not updated on the hot path)."""
    if account.materialised:
        return account.balance_kobo
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount_kobo"))["total"] or 0


def system_balances() -> dict[str, int]:
    """code -> balance of every system account, one GROUP BY over the entries."""
    totals = dict(
        Entry.objects.filter(account__kind="system").values("account__code").annotate(total=Sum("amount_kobo"))
        .values_list("account__code", "total")
    )
    return {code: totals.get(code, 0) for code in LedgerAccount.objects.filter(kind="system").values_list("code", flat=True)}


def holds_overdue(*, now: datetime | None = None) -> QuerySet[Hold]:
    """Active holds past their review deadline (`expires_at`), the most overdue first: money
    still reserved for an outcome nobody has settled. Never released automatically (a
    purchase whose outcome is unknown keeps its hold); staff settle them (docs/ledger.md)."""
    return (
        Hold.objects.filter(status=Hold.Status.ACTIVE, expires_at__lt=now or clock.now())
        .select_related("account").order_by("expires_at", "id")
    )


def ledger_check_latest() -> LedgerCheck | None:
    return LedgerCheck.objects.filter(finished_at__isnull=False).order_by("-id").first()


# --- staff adjustments ----------------------------------------------------------------------


def adjustment_day_total(*, account_id: int, exclude_id: int | None = None) -> tuple[int, int]:
    """(count, kobo) of the wallet's adjustments since Lagos midnight that are not rejected,
    credits and debits alike, whoever asked: what the approval rule adds up (read under the
    wallet row lock by `adjustment_request`)."""
    today = Adjustment.objects.filter(account_id=account_id, created_at__gte=clock.lagos_day_start()).exclude(
        status=Adjustment.Status.REJECTED
    )
    if exclude_id is not None:
        today = today.exclude(pk=exclude_id)
    totals = today.aggregate(count=Count("pk"), kobo=Sum("amount_kobo"))
    return totals["count"], totals["kobo"] or 0
