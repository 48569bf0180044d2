"""Back office for the catalogue, routing and purchases (basic; the back-office issue extends it).

Catalogue and routing switches are edited in place and every change is audited. Purchases,
attempts, events and provider calls are read-only: money moves only through services
(the "Requery now" action calls vtu.services.staff; refund and resolve need a reason form,
which the back-office issue adds on top of purchase_refund / purchase_resolve).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.services import Actor, audit_record
from config.errors import ApiError
from vtu.models import (
    DataPlan,
    Network,
    ProviderAttempt,
    ProviderCall,
    ProviderPlan,
    ProviderPlanCostChange,
    ProviderState,
    Purchase,
    PurchaseEvent,
    Route,
)
from vtu.services import snapshot, staff


class AuditedAdmin(admin.ModelAdmin):
    """Saves go through one transaction with an audit record of the changed fields."""

    audit_action = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            changes = {field: form.cleaned_data.get(field) for field in form.changed_data}
            audit_record(action=self.audit_action, actor=Actor.from_request(request), target=obj, changes=changes)
        snapshot.forget()  # this process sees the change at once; the others within the cache TTL

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch off instead: history refers to these rows


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Network)
class NetworkAdmin(AuditedAdmin):
    audit_action = "network.update"
    list_display = ("code", "name", "active", "airtime_active", "sme_active", "gifting_active", "corporate_active",
                    "airtime_min_kobo", "airtime_max_kobo")
    list_editable = ("active", "airtime_active", "sme_active", "gifting_active", "corporate_active")


class ProviderPlanInline(admin.TabularInline):
    model = ProviderPlan
    extra = 0
    fields = ("provider", "provider_plan_id", "cost_kobo", "active", "suspended_at", "suspended_reason", "last_seen_at")
    readonly_fields = ("suspended_at", "suspended_reason", "last_seen_at")


@admin.register(DataPlan)
class DataPlanAdmin(AuditedAdmin):
    audit_action = "plan.update"
    list_display = ("code", "network", "name", "plan_type", "size_mb", "validity_days", "active")
    list_editable = ("active",)
    list_filter = ("network", "plan_type", "active")
    search_fields = ("code", "name")
    inlines = [ProviderPlanInline]


class CostChangeInline(ReadOnlyInline):
    model = ProviderPlanCostChange
    fields = ("changed_at", "old_cost_kobo", "new_cost_kobo")


@admin.register(ProviderPlan)
class ProviderPlanAdmin(AuditedAdmin):
    audit_action = "provider_plan.update"
    list_display = ("provider", "plan", "provider_plan_id", "cost_kobo", "active", "suspended_at", "last_seen_at")
    list_editable = ("active",)
    list_filter = ("provider", "active", "plan__network")
    search_fields = ("plan__code", "provider_plan_id")
    readonly_fields = ("suspended_at", "suspended_reason", "last_seen_at")
    inlines = [CostChangeInline]


@admin.register(Route)
class RouteAdmin(AuditedAdmin):
    audit_action = "routing.update"
    list_display = ("network", "product", "provider", "priority", "enabled", "airtime_cost_bps")
    list_editable = ("priority", "enabled", "airtime_cost_bps")
    list_filter = ("network", "product", "provider")


@admin.register(ProviderState)
class ProviderStateAdmin(AuditedAdmin):
    audit_action = "provider.update"
    list_display = ("provider", "enabled", "circuit", "consecutive_failures", "health_score", "success_rate_bps",
                    "latency_p50_ms", "last_balance_kobo", "balance_checked_at")
    list_editable = ("enabled",)
    readonly_fields = ("circuit", "consecutive_failures", "opened_at", "probe_started_at", "health_score",
                       "success_rate_bps", "latency_p50_ms", "health_updated_at", "last_balance_kobo",
                       "balance_checked_at")


class EventInline(ReadOnlyInline):
    model = PurchaseEvent
    fields = ("created_at", "from_status", "to_status", "cause", "actor", "detail")


class AttemptInline(ReadOnlyInline):
    model = ProviderAttempt
    fields = ("number", "provider", "request_id", "state", "provider_reference", "cost_kobo", "charged_kobo",
              "message", "sends", "queries", "created_at", "answered_at")


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ("reference", "user", "product", "network", "plan", "phone", "amount_kobo", "status", "provider",
                    "needs_review_at", "created_at")
    list_filter = ("status", "product", "network", "provider", ("needs_review_at", admin.EmptyFieldListFilter))
    search_fields = ("reference", "client_reference", "phone", "user__email", "provider_reference",
                     "attempts__request_id")
    date_hierarchy = "created_at"
    inlines = [AttemptInline, EventInline]
    actions = ["requery_now"]
    list_select_related = ("user", "network", "plan")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Requery now (open or delivered purchases)")
    def requery_now(self, request: HttpRequest, queryset: QuerySet[Purchase]) -> None:
        actor = Actor.from_request(request)
        done = 0
        for purchase in queryset:
            try:
                staff.purchase_requery_now(staff=actor, reference=purchase.reference)
                done += 1
            except ApiError as error:
                self.message_user(request, f"{purchase.reference}: {error.detail}", messages.WARNING)
        self.message_user(request, f"Requery queued for {done} purchase(s).")


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin):
    list_display = ("created_at", "provider", "operation", "status_code", "error", "latency_ms", "request_id")
    list_filter = ("provider", "operation", "error")
    search_fields = ("request_id", "purchase__reference")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
