"""Back office for the ledger: read-only. Balances and entries are never edited here; staff
move money through the services (adjustments with a reason, maker-checker above a threshold).
The back-office issue extends this (actions that call services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from wallets.models import Adjustment, Entry, Hold, Journal, LedgerAccount, LedgerCheck


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "amount_kobo", "balance_after_kobo", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "code", "kind", "user", "currency", "balance_kobo", "held_kobo", "status")
    list_filter = ("kind", "status", "currency")
    search_fields = ("number", "code", "user__email")
    raw_id_fields = ("user",)


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "kind", "reference", "memo", "actor_label", "created_at")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "reference")
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "journal", "account", "amount_kobo", "balance_after_kobo", "created_at")
    search_fields = ("journal__idempotency_key", "journal__reference", "account__number")
    list_select_related = ("journal", "account")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("reference", "account", "amount_kobo", "captured_kobo", "status", "expires_at", "created_at")
    list_filter = ("status",)
    search_fields = ("reference", "account__number")
    list_select_related = ("account",)


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "direction", "amount_kobo", "status", "requested_by", "decided_by", "created_at")
    list_filter = ("status", "direction")
    search_fields = ("account__number", "bank_reference", "reason")


@admin.register(LedgerCheck)
class LedgerCheckAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "ok", "finding_count", "finished_at")
