"""Read-only admin pages for the audit log and the API request log.

Nobody adds, changes or deletes a row here, superusers included: the audit log is
append-only (a PostgreSQL trigger refuses UPDATE/DELETE as well), and the request log is
pruned only by its periodic task. Who may *see* each page is the `view_*` permission of the
staff groups (backoffice/roles.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from audit.actions import ACTIONS
from audit.models import AuditLog, RequestLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model admin where every field is read-only and no row can be added or removed."""

    show_full_result_count = False  # COUNT(*) of a large log table on every page is slow
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActionFilter(admin.SimpleListFilter):
    """Choices from the fixed action list, not SELECT DISTINCT over the whole table."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(action, action) for action in sorted(ACTIONS)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_kind", "actor_label", "action", "target_type", "target_id", "target_repr", "short_reason")
    list_filter = (ActionFilter, "actor_kind")
    search_fields = ("action", "actor_label", "=target_id", "target_repr", "reason", "=request_id")
    search_help_text = "Action, actor e-mail, target id or name, reason, request id."
    date_hierarchy = "created_at"
    fields = (
        "created_at", "actor_kind", "actor_label", "actor_user_id", "actor_api_key_id", "action", "action_description",
        "target_type", "target_id", "target_repr", "changes_pretty", "reason", "ip", "user_agent", "request_id",
    )
    readonly_fields = fields

    @admin.display(description="reason")
    def short_reason(self, obj: AuditLog) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    @admin.display(description="what it means")
    def action_description(self, obj: AuditLog) -> str:
        return ACTIONS.get(obj.action, "")

    @admin.display(description="changes")
    def changes_pretty(self, obj: AuditLog) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, indent=2, sort_keys=True, default=str))


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("2", "2xx"), ("3", "3xx"), ("4", "4xx"), ("5", "5xx")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("2", "3", "4", "5"):
            low = int(self.value()) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "method", "path", "status", "latency_ms", "user_id", "api_key_id", "ip", "request_id")
    list_filter = (StatusClassFilter, "method")
    search_fields = ("path", "=request_id")
    search_help_text = "Path, request id, or a user or API key id (digits)."
    date_hierarchy = "created_at"
    fields = list_display
    readonly_fields = list_display

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if term.isdigit():
            # A number is an id: exact matches on the id columns (the indexes serve them).
            return queryset.filter(Q(user_id=int(term)) | Q(api_key_id=int(term))), False
        return super().get_search_results(request, queryset, search_term)
