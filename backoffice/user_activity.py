"""What the user page shows about a customer's money: the wallet summary (balance, available,
held, frozen) and their recent activity (ledger transactions with holds in progress, purchases,
deposits), each linking to its own page. Reads only (through the apps' selectors and models);
a few small indexed queries per page."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backoffice.templatetags.backoffice_format import naira
from payments.models import Deposit
from vtu.models import Purchase
from wallets import selectors as wallet_selectors
from wallets.models import LedgerAccount

RECENT = 10


def _link(obj: Any, text: Any) -> str:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join("", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows))
    return format_html("<table><tr>{}</tr>{}</table>", head, body)


def wallet_of(user: Any) -> LedgerAccount | None:
    """The user's customer wallet, if one was ever opened (viewing a user never opens one)."""
    return LedgerAccount.objects.filter(user=user, kind=LedgerAccount.Kind.CUSTOMER).order_by("pk").first()


def wallet_summary(user: Any) -> str:
    wallet = wallet_of(user)
    if wallet is None:
        return "No wallet yet (it opens on first use)."
    state = format_html("<b>FROZEN</b> since {}: {}", f"{wallet.frozen_at:%Y-%m-%d %H:%M}", wallet.frozen_reason) \
        if wallet.is_frozen else wallet.status
    return format_html(
        '<span id="wallet-summary">wallet {} · balance <b>{}</b> · available <b>{}</b> · held {} · {}</span>',
        _link(wallet, wallet.number), naira(wallet.balance_kobo), naira(wallet.available_kobo), naira(wallet.held_kobo),
        state,
    )


def recent_activity(user: Any) -> str:
    """The customer's own transaction list (the same as GET /transactions/me): posted entries
    merged with holds in progress, newest first."""
    wallet = wallet_of(user)
    if wallet is None:
        return "—"
    items, _next = wallet_selectors.transactions_page(account_id=wallet.pk, filters={}, cursor=None, limit=RECENT)
    return _table(
        ("when", "kind", "status", "amount", "reference", "narration", "balance after"),
        [(f"{item.created_at:%Y-%m-%d %H:%M}", item.kind, item.status,
          naira(item.amount_kobo if item.direction == "credit" else -item.amount_kobo), item.reference, item.narration,
          naira(item.balance_after_kobo)) for item in items],
    )


def recent_purchases(user: Any) -> str:
    purchases = Purchase.objects.filter(user=user).select_related("network").order_by("-id")[:RECENT]
    return _table(
        ("when", "reference", "product", "phone", "amount", "status"),
        [(f"{p.created_at:%Y-%m-%d %H:%M}", _link(p, p.reference), f"{p.network.code} {p.product}", p.phone,
          naira(p.amount_kobo), p.status) for p in purchases],
    )


def recent_deposits(user: Any) -> str:
    deposits = Deposit.objects.filter(user=user).order_by("-id")[:RECENT]
    return _table(
        ("when", "reference", "gateway", "amount", "credited", "status"),
        [(f"{d.created_at:%Y-%m-%d %H:%M}", _link(d, d.reference), d.gateway, naira(d.amount_kobo),
          naira(d.credited_kobo), d.status) for d in deposits],
    )
