"""CSV exports for finance: ledger transactions (one row per entry) and purchases, for a range
of Africa/Lagos days. Finance and admin only (backoffice.data_export); every export is
audited (staff.export) before the first byte leaves.

Amounts are integer kobo (columns end in _kobo), times ISO 8601 in Africa/Lagos. Text cells
that a spreadsheet would read as a formula (=, +, -, @, tab, CR) are prefixed with a quote.
Rows are streamed from a server-side cursor, so a large range does not sit in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse

from audit.services import Actor
from backoffice import services
from vtu.models import Purchase
from wallets.models import Entry

LAGOS = ZoneInfo("Africa/Lagos")
PERMISSION = "backoffice.data_export"
MAX_DAYS = 366
CHUNK = 2_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

TRANSACTION_COLUMNS = ["created_at", "journal_key", "journal_kind", "reference", "account", "account_kind",
                       "amount_kobo", "balance_after_kobo", "memo", "actor"]
PURCHASE_COLUMNS = ["reference", "created_at", "completed_at", "status", "customer", "channel", "product", "network",
                    "plan", "phone", "amount_kobo", "cost_kobo", "margin_kobo", "provider", "provider_reference"]


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=[("transactions", "Transactions (ledger entries)"), ("purchases", "Purchases")])
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start is after the end.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"At most {MAX_DAYS} days per export.")
        return data


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min, tzinfo=LAGOS), datetime.combine(end + timedelta(days=1), time.min, tzinfo=LAGOS)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(LAGOS).isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def transactions(start: date, end: date) -> tuple[int, Iterable[list[Any]]]:
    """Every ledger entry of the journals posted in the range (the journal's time index picks
    them), in posting order."""
    lo, hi = _bounds(start, end)
    entries = (
        Entry.objects.filter(journal__created_at__gte=lo, journal__created_at__lt=hi)
        .select_related("journal", "account").order_by("journal_id", "id")
    )
    rows = (
        [e.journal.created_at, e.journal.idempotency_key, e.journal.kind, e.journal.reference,
         e.account.number or e.account.code, e.account.kind, e.amount_kobo, e.balance_after_kobo, e.journal.memo,
         e.journal.actor_label]
        for e in entries.iterator(chunk_size=CHUNK)
    )
    return entries.count(), rows


def purchases(start: date, end: date) -> tuple[int, Iterable[list[Any]]]:
    """Purchases made in the range, whatever their status now."""
    lo, hi = _bounds(start, end)
    # status__in lets the (status, created_at) index serve the range.
    made = (
        Purchase.objects.filter(status__in=Purchase.Status.values, created_at__gte=lo, created_at__lt=hi)
        .select_related("user", "network", "plan").order_by("id")
    )
    rows = (
        [p.reference, p.created_at, p.completed_at, p.status, p.user.email, p.channel, p.product, p.network.code,
         p.plan.code if p.plan else "", p.phone, p.amount_kobo, p.cost_kobo, p.margin_kobo, p.provider,
         p.provider_reference]
        for p in made.iterator(chunk_size=CHUNK)
    )
    return made.count(), rows


EXPORTS = {"transactions": (TRANSACTION_COLUMNS, transactions), "purchases": (PURCHASE_COLUMNS, purchases)}


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(columns: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def export_view(request: HttpRequest, admin_site: Any) -> HttpResponse:
    """GET: the form. POST: the CSV download, audited first."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kind, start, end = form.cleaned_data["kind"], form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        columns, source = EXPORTS[kind]
        count, rows = source(start, end)
        services.staff_export_record(actor=Actor.from_request(request), kind=kind, date_from=start, date_to=end, rows=count)
        response = StreamingHttpResponse(csv_lines(columns, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{start}-{end}.csv"'
        return response
    context = {**admin_site.each_context(request), "title": "Export to CSV", "form": form}
    return TemplateResponse(request, "backoffice/export.html", context)
