"""Admin pages the back office owns: users (backoffice/admin_users.py), staff two-factor
devices (backoffice/admin_otp.py), periodic tasks (backoffice/admin_beat.py) and operator
alerts; and pages it removes.

- JWT refresh tokens (token_blacklist) are secrets: their admin pages would show them, so
  they are unregistered. Revoking a user's sessions is accounts.services.refresh_tokens_revoke_all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from audit.admin import ReadOnlyAdmin
from audit.services import Actor
from backoffice import (
    admin_beat,  # noqa: F401 - replaces django-celery-beat's task and schedule pages
    admin_otp,  # noqa: F401 - replaces django-otp's TOTPDevice page
    admin_users,  # noqa: F401 - registers accounts.User
    services,
)
from backoffice.forms import ReasonForm
from config.models import Alert

for _model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "resolved"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Operator alerts (raised by config.alerts.alert_raise); staff mark them resolved with a
    reason. A new occurrence re-opens a resolved alert."""

    list_display = ("last_seen_at", "severity", "kind", "message", "count", "created_at", "resolved_at")
    list_filter = (OpenFilter, "severity", "kind")
    search_fields = ("kind", "message", "=dedupe_key")
    fields = ("kind", "severity", "message", "details", "count", "created_at", "last_seen_at", "resolved_at", "dedupe_key")
    readonly_fields = fields
    ordering = ("resolved_at", "-last_seen_at")
    actions = ("resolve_alerts",)

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backoffice.alert_resolve")

    @admin.action(permissions=["resolve"], description="Mark selected alerts resolved (asks for a reason)")
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            count = services.alerts_resolve(
                actor=Actor.from_request(request), alert_ids=list(queryset.values_list("pk", flat=True)),
                reason=form.cleaned_data["reason"],
            )
            self.message_user(request, f"{count} alert(s) resolved.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request), "title": "Resolve alerts", "opts": self.opts, "form": form,
            "queryset": queryset, "action": "resolve_alerts", "verb": "Resolve",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "backoffice/action_reason.html", context)
