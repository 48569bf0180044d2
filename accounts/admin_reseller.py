"""Back office for the reseller API: API keys, callback endpoints and deliveries, KYC.

Read-only lists; every change goes through a service (audited) from an admin action that
asks for a reason where the service needs one. Imported by accounts/admin.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import api_keys, callback_endpoints, kyc
from accounts.models import APIKey, CallbackAttempt, CallbackDelivery, CallbackEndpoint, KYCSubmission
from audit.services import Actor
from config.errors import ApiError


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000)
    tier = forms.TypedChoiceField(
        choices=[("", "as requested"), (1, "1"), (2, "2"), (3, "3")], coerce=int, empty_value=None, required=False
    )


def _with_reason(
    request: HttpRequest, queryset: QuerySet, *, title: str, action: str, apply: Callable[[Any, str, int | None], Any],
    ask_tier: bool = False,
) -> TemplateResponse | None:
    """An admin action that first asks for a reason (and a tier), then applies a service to
    each selected row, reporting refusals one by one."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data["reason"], form.cleaned_data.get("tier"))
                done += 1
            except ApiError as exc:
                messages.error(request, f"{obj}: {exc.detail}")
        messages.info(request, f"{title}: {done} done.")
        return None
    return TemplateResponse(
        request, "admin/accounts/reason_form.html",
        {"title": title, "form": form, "objects": queryset, "action": action, "ask_tier": ask_tier,
         "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)},
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Every field read-only; rows change only through the actions (services). The model's
    "change" permission decides who may run the actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        excluded = set(self.exclude or ())
        own = [field.name for field in self.model._meta.fields if field.name not in excluded]
        return [*own, *self.readonly_fields]


@admin.register(APIKey)
class APIKeyAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "name", "user", "scopes", "status", "created_at", "expires_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__email"]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> TemplateResponse | None:
        staff = Actor.from_request(request)
        return _with_reason(
            request, queryset, title="Revoke API keys", action="revoke",
            apply=lambda key, reason, _tier: api_keys.api_key_revoke(user=key.user, key_id=key.pk, actor=staff, reason=reason),
        )


class AttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "outcome", "status_code", "latency_ms", "response_excerpt", "error"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallbackEndpoint)
class CallbackEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "user", "events", "status", "failing_since", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "user__email"]
    exclude = ["secret_encrypted"]
    actions = ["enable"]

    @admin.action(description="Re-enable the selected disabled endpoints", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[CallbackEndpoint]) -> TemplateResponse | None:
        staff = Actor.from_request(request)
        return _with_reason(
            request, queryset, title="Re-enable callback endpoints", action="enable",
            apply=lambda endpoint, reason, _tier: callback_endpoints.callback_endpoint_enable(
                staff=staff, endpoint_id=endpoint.pk, reason=reason
            ),
        )


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at",
                    "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "endpoint__url", "endpoint__user__email"]
    exclude = ["claim_token"]
    inlines = [AttemptInline]
    actions = ["resend"]

    @admin.action(description="Re-send the selected deliveries", permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[CallbackDelivery]) -> None:
        staff = Actor.from_request(request)
        for delivery in queryset.select_related("endpoint"):
            try:
                callback_endpoints.callback_delivery_resend(
                    user=request.user, endpoint_id=delivery.endpoint_id, delivery_id=delivery.pk, actor=staff
                )
            except ApiError as exc:
                messages.error(request, f"{delivery}: {exc.detail}")


@admin.register(KYCSubmission)
class KYCSubmissionAdmin(ReadOnlyAdmin):
    list_display = ["user", "id_type", "id_number_masked", "requested_tier", "status", "created_at", "decided_at"]
    list_filter = ["status", "id_type", "requested_tier"]
    search_fields = ["user__email", "id_number_masked"]
    exclude = ["id_number_hmac", "document"]
    readonly_fields = ["document_link", "identity_shared_with"]
    actions = ["approve", "reject"]

    @admin.display(description="Document")
    def document_link(self, submission: KYCSubmission) -> str:
        if not submission.document:
            return "-"
        url = reverse("admin:accounts_kycsubmission_document", args=[submission.pk])
        return format_html('<a href="{}">{} ({} bytes)</a>', url, submission.document_content_type, submission.document_size)

    @admin.display(description="Same BVN/NIN used by")
    def identity_shared_with(self, submission: KYCSubmission) -> str:
        others = list(kyc.identity_shared_with(submission).values_list("email", flat=True)[:10])
        return ", ".join(others) or "no other account"

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.document_view)
        return [path("<int:pk>/document/", view, name="accounts_kycsubmission_document"), *super().get_urls()]

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Staff read the ID document through the admin (never a public media URL)."""
        submission = KYCSubmission.objects.filter(pk=pk).first()
        if submission is None or not submission.document or not self.has_kyc_permission(request):
            raise Http404
        handle = default_storage.open(submission.document.name, "rb")
        return FileResponse(handle, content_type=submission.document_content_type or "application/octet-stream")

    def has_kyc_permission(self, request: HttpRequest) -> bool:
        """Deciding KYC (and reading the ID documents) goes with changing KYC tiers: the
        back office's `user_kyc_tier_set` (backoffice/roles.py), checked by name."""
        return request.user.has_perm("backoffice.user_kyc_tier_set")

    @admin.action(description="Approve the selected submissions (raises the tier)", permissions=["kyc"])
    def approve(self, request: HttpRequest, queryset: QuerySet[KYCSubmission]) -> TemplateResponse | None:
        staff = Actor.from_request(request)
        return _with_reason(
            request, queryset, title="Approve KYC", action="approve", ask_tier=True,
            apply=lambda sub, reason, tier: kyc.kyc_approve(staff=staff, submission_id=sub.pk, reason=reason, tier=tier),
        )

    @admin.action(description="Reject the selected submissions", permissions=["kyc"])
    def reject(self, request: HttpRequest, queryset: QuerySet[KYCSubmission]) -> TemplateResponse | None:
        staff = Actor.from_request(request)
        return _with_reason(
            request, queryset, title="Reject KYC", action="reject",
            apply=lambda sub, reason, _tier: kyc.kyc_reject(staff=staff, submission_id=sub.pk, reason=reason),
        )
