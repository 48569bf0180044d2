"""Read-only back office for funding (the back-office engineer extends it: resolve, reprocess).

Staff see every delivery, forged ones included, with its verdict and reason; money never
moves from here except through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payments.models import Deposit, VirtualAccount, WebhookDelivery, WebhookEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("reference", "user", "gateway", "source", "amount_kobo", "credited_kobo", "status", "created_at")
    list_filter = ("status", "gateway", "source")
    search_fields = ("reference", "gateway_reference", "gateway_transaction_id", "user__email")
    date_hierarchy = "created_at"
    list_select_related = ("user",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "gateway", "verdict", "reason", "remote_ip", "received_at", "event")
    list_filter = ("verdict", "gateway")
    search_fields = ("reason", "remote_ip")
    exclude = ("body",)
    readonly_fields = ("body_text",)
    date_hierarchy = "received_at"

    @admin.display(description="body")
    def body_text(self, obj: WebhookDelivery) -> str:
        return bytes(obj.body).decode("utf-8", "replace")[:20_000]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "gateway", "event_type", "kind", "reference", "outcome", "error", "processed_at")
    list_filter = ("outcome", "gateway", "kind")
    search_fields = ("dedupe_key", "reference", "gateway_transaction_id")
    date_hierarchy = "received_at"


@admin.register(VirtualAccount)
class VirtualAccountAdmin(ReadOnlyAdmin):
    list_display = ("account_number", "bank_name", "gateway", "user", "active", "created_at")
    list_filter = ("gateway", "active")
    search_fields = ("account_number", "user__email", "customer_reference")
    list_select_related = ("user",)
