"""Back office for the catalogue, routing and provider switches, and the helpers of the vtu
console pages; purchases, provider calls and disputes are in vtu/admin_purchases.py
(imported at the end of this module, so Django's admin autodiscovery registers them too).

Catalogue and routing (networks, plans, provider plan mappings, provider order and on/off per
network, provider switches) are edited in place; every save, a plan's provider plan rows
included, goes through vtu.services.catalogue_admin and is audited with the before and after
values of what changed. Nothing is deleted:
switch it off (history refers to these rows). Circuit breakers are reset with a reason
(vtu.breaker). Who may do what is a backoffice.* permission checked by name
(backoffice/roles.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from audit.admin_actions import bulk_action
from audit.services import Actor
from config.logs import redact_value
from vtu import breaker
from vtu.models import (
    DataPlan,
    Network,
    ProviderPlan,
    ProviderPlanCostChange,
    ProviderState,
    Route,
)
from vtu.services.catalogue_admin import catalogue_row_save

PROVIDER_PERM = "backoffice.provider_manage"


def naira(kobo: int | None) -> str:
    if kobo is None:
        return "—"
    sign = "-" if kobo < 0 else ""
    return f"{sign}₦{abs(kobo) // 100:,}.{abs(kobo) % 100:02d}"


def change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def provider_json(value: Any) -> str:
    """A stored request/response body, secrets redacted again at display (defence in depth)."""
    if value is None:
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(redact_value(value), indent=2, sort_keys=True, default=str)[:20_000])


def redacted_url(url: str) -> str:
    base, _, query = url.partition("?")
    return base + ("?…" if query else "")  # query strings carry API keys at some vendors


class AuditedAdmin(admin.ModelAdmin):
    """Saves (the change form and the list's editable columns) go through
    vtu.services.catalogue_admin: one transaction, only the changed fields written, an audit
    record of their before and after values. Nothing is deleted."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        catalogue_row_save(actor=Actor.from_request(request), row=obj, fields=form.changed_data if change else None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch off instead: history refers to these rows


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(field.name for field in self.model._meta.fields), *self.readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- catalogue and routing ---------------------------------------------------------------------


@admin.register(Network)
class NetworkAdmin(AuditedAdmin):
    list_display = ("code", "name", "active", "airtime_active", "sme_active", "gifting_active", "corporate_active",
                    "airtime_min_kobo", "airtime_max_kobo")
    list_editable = ("active", "airtime_active", "sme_active", "gifting_active", "corporate_active")


class ProviderPlanInline(admin.TabularInline):
    """Edited with the plan; each added or changed mapping is saved and audited on its own
    (DataPlanAdmin.save_formset). Never deleted: switch it off."""

    model = ProviderPlan
    extra = 0
    can_delete = False
    fields = ("provider", "provider_plan_id", "cost_kobo", "active", "suspended_at", "suspended_reason", "last_seen_at")
    readonly_fields = ("suspended_at", "suspended_reason", "last_seen_at")


@admin.register(DataPlan)
class DataPlanAdmin(AuditedAdmin):
    list_display = ("code", "network", "name", "plan_type", "size_mb", "validity_days", "active")
    list_editable = ("active",)
    list_filter = ("network", "plan_type", "active")
    search_fields = ("code", "name")
    inlines = [ProviderPlanInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The provider plan rows: each through the audited service, like their own page."""
        actor = Actor.from_request(request)
        formset.save(commit=False)  # fills new_objects / changed_objects, writes nothing
        for row in formset.new_objects:
            catalogue_row_save(actor=actor, row=row)
        for row, fields in formset.changed_objects:
            catalogue_row_save(actor=actor, row=row, fields=fields)


class CostChangeInline(ReadOnlyInline):
    model = ProviderPlanCostChange
    fields = ("changed_at", "old_cost_kobo", "new_cost_kobo")


@admin.register(ProviderPlan)
class ProviderPlanAdmin(AuditedAdmin):
    list_display = ("provider", "plan", "provider_plan_id", "cost_kobo", "active", "suspended_at", "last_seen_at")
    list_editable = ("active",)
    list_filter = ("provider", "active", "plan__network")
    search_fields = ("plan__code", "provider_plan_id")
    readonly_fields = ("suspended_at", "suspended_reason", "last_seen_at")
    inlines = [CostChangeInline]


@admin.register(Route)
class RouteAdmin(AuditedAdmin):
    """Provider order (lower priority first) and on/off, per network and product."""

    list_display = ("network", "product", "provider", "priority", "enabled", "sme_enabled", "gifting_enabled",
                    "corporate_enabled", "airtime_cost_bps")
    list_editable = ("priority", "enabled", "sme_enabled", "gifting_enabled", "corporate_enabled", "airtime_cost_bps")
    list_filter = ("network", "product", "provider", "enabled")
    ordering = ("network", "product", "priority")


@admin.register(ProviderState)
class ProviderStateAdmin(AuditedAdmin):
    list_display = ("provider", "enabled", "circuit", "consecutive_failures", "opened_at", "health_score",
                    "success_rate_bps", "latency_p50_ms", "float_naira", "balance_checked_at")
    list_editable = ("enabled",)
    list_filter = ("circuit", "enabled")
    readonly_fields = ("provider", "circuit", "consecutive_failures", "opened_at", "probe_started_at", "health_score",
                       "success_rate_bps", "latency_p50_ms", "health_updated_at", "last_balance_kobo",
                       "balance_checked_at")
    actions = ("reset_circuit",)

    @admin.display(description="float (provider's word)")
    def float_naira(self, state: ProviderState) -> str:
        return naira(state.last_balance_kobo)

    def has_provider_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PROVIDER_PERM)

    @admin.action(permissions=["provider"], description="Reset the circuit breaker (asks for a reason)")
    def reset_circuit(self, request: HttpRequest, queryset: QuerySet[ProviderState]) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="reset_circuit", verb="Reset the circuit breaker",
            call=lambda state, data: breaker.circuit_reset(staff=actor, provider=state.provider, reason=data["reason"]),
        )


# Purchases, provider calls and disputes: vtu/admin_purchases.py (registered on import).
from vtu import admin_purchases  # noqa: E402, F401
