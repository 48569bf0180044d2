"""Back office for purchases, provider calls and disputes (the catalogue, routing and provider
switches are in vtu/admin.py, which imports this module).

Purchases, attempts, events and provider calls are read-only. Staff act through services,
each with an audit record: requery now, resolve a flagged purchase as delivered or failed,
refund a successful one (vtu.services.staff); disputes are a queue: requery, then decide
(vtu.disputes). Who may do what is a backoffice.* permission checked by name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from accounts import phones
from accounts.errors import InvalidPhoneNumber
from audit.admin_actions import ReasonForm, object_action, require_perm
from audit.services import Actor
from config import errors
from config.errors import ApiError
from vtu import disputes
from vtu.admin import ReadOnlyAdmin, ReadOnlyInline, change_url, naira, provider_json, redacted_url
from vtu.models import Dispute, ProviderAttempt, ProviderCall, ProviderCallback, Purchase, PurchaseEvent
from vtu.services import staff

REQUERY_PERM = "backoffice.purchase_requery"
RESOLVE_PERM = "backoffice.purchase_resolve"
REFUND_PERM = "backoffice.purchase_refund"
DISPUTE_PERM = "backoffice.dispute_resolve"


# --- purchases ---------------------------------------------------------------------------------


class EventInline(ReadOnlyInline):
    model = PurchaseEvent
    fields = ("created_at", "from_status", "to_status", "cause", "actor", "detail")
    readonly_fields = fields


class AttemptInline(ReadOnlyInline):
    model = ProviderAttempt
    fields = ("number", "provider", "request_id", "state", "provider_reference", "cost_kobo", "charged_kobo",
              "message", "sends", "queries", "latency_ms", "created_at", "answered_at")
    readonly_fields = fields


class CallInline(ReadOnlyInline):
    model = ProviderCall
    fk_name = "purchase"
    fields = ("created_at", "provider", "operation", "status_code", "error", "latency_ms", "request_id", "request",
              "response")
    readonly_fields = fields
    ordering = ("id",)

    @admin.display(description="request (redacted)")
    def request(self, call: ProviderCall) -> str:
        return format_html("{} {}<br>{}", call.method, redacted_url(call.url), provider_json(call.request_body))

    @admin.display(description="response (redacted)")
    def response(self, call: ProviderCall) -> str:
        return provider_json(call.response_body)


class FlaggedFilter(admin.SimpleListFilter):
    title = "flagged for review"
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Past its SLA, waiting for staff"), ("no", "Not flagged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(needs_review_at__isnull=False, status=Purchase.Status.PROCESSING)
        if self.value() == "no":
            return queryset.filter(needs_review_at__isnull=True)
        return queryset


def _phone_query(term: str) -> str | None:
    if not any(ch.isdigit() for ch in term) or any(ch.isalpha() for ch in term):
        return None
    try:
        return phones.normalize_ng_mobile(term)
    except InvalidPhoneNumber:
        return None


class ResolveForm(ReasonForm):
    delivered = forms.TypedChoiceField(
        choices=[("", "—"), ("yes", "Delivered: capture the payment"), ("no", "Not delivered: release it to the customer")],
        coerce=lambda value: value == "yes", empty_value=None, label="The provider says",
        help_text="Check with the provider (portal, support) first: this is the decision the code refuses to guess.",
    )
    field_order = ["delivered", "reason"]


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = ("reference", "user", "product", "network", "plan", "phone", "amount", "status", "provider",
                    "provider_reference", "flagged", "created_at")
    list_filter = ("status", FlaggedFilter, "product", "network", "provider", "channel", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=reference", "=client_reference", "=phone", "user__email", "=provider_reference",
                     "=attempts__request_id")
    search_help_text = "Our reference, the client's reference, phone (any format), e-mail, provider reference or request id."
    date_hierarchy = "created_at"
    inlines = [AttemptInline, CallInline, EventInline]
    actions = ("requery_now",)
    list_select_related = ("user", "network", "plan")
    change_form_template = "admin/vtu/purchase/change_form.html"

    @admin.display(description="amount", ordering="amount_kobo")
    def amount(self, purchase: Purchase) -> str:
        return naira(purchase.amount_kobo)

    @admin.display(boolean=True, description="flagged")
    def flagged(self, purchase: Purchase) -> bool:
        return purchase.needs_review_at is not None and purchase.status == Purchase.Status.PROCESSING

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        phone = _phone_query(search_term.strip())
        if phone is not None:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    def has_requery_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REQUERY_PERM)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> HttpResponse:
        purchase = context.get("original")
        if purchase is not None:
            context["can_resolve"] = purchase.status == Purchase.Status.PROCESSING and purchase.needs_review_at is not None
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(permissions=["requery"], description="Requery now (open or delivered purchases)")
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

    # --- per-purchase pages ----------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/requery/", wrap(self.requery_view), name="vtu_purchase_requery"),
            path("<int:pk>/resolve/", wrap(self.resolve_view), name="vtu_purchase_resolve"),
            path("<int:pk>/refund/", wrap(self.refund_view), name="vtu_purchase_refund"),
            *super().get_urls(),
        ]

    def _purchase(self, pk: int) -> Purchase:
        purchase = Purchase.objects.select_related("user", "network", "plan").filter(pk=pk).first()
        if purchase is None:
            raise Http404("No such purchase.")
        return purchase

    def requery_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, REQUERY_PERM)
        purchase = self._purchase(pk)

        def call(_data: dict[str, Any]) -> str:
            staff.purchase_requery_now(staff=Actor.from_request(request), reference=purchase.reference)
            return f"Requery of {purchase.reference} sent; the provider's answer is recorded below when it comes."

        intro = f"Ask {purchase.provider or 'the provider'} again about {purchase.reference} (now {purchase.status})."
        return object_action(request, self, target=purchase, verb="Requery", form_class=forms.Form, call=call,
                             done_url=change_url(purchase), intro=intro)

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, RESOLVE_PERM)
        purchase = self._purchase(pk)

        def call(data: dict[str, Any]) -> str:
            done = staff.purchase_resolve(staff=Actor.from_request(request), reference=purchase.reference,
                                          delivered=data["delivered"], reason=data["reason"])
            return f"{done.reference} resolved: {done.status}."

        intro = (f"{purchase.reference}: {naira(purchase.amount_kobo)} to {purchase.phone}, {purchase.status}"
                 f"{', flagged for review' if purchase.needs_review_at else ''}. Only a purchase flagged for review "
                 "(past its SLA with no definitive answer) is resolved by hand; requery first.")
        return object_action(request, self, target=purchase, verb="Resolve", form_class=ResolveForm, call=call,
                             done_url=change_url(purchase), intro=intro)

    def refund_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, REFUND_PERM)
        purchase = self._purchase(pk)

        def call(data: dict[str, Any]) -> str:
            staff.purchase_refund(staff=Actor.from_request(request), reference=purchase.reference, reason=data["reason"])
            return f"{purchase.reference} refunded: {naira(purchase.amount_kobo)} back in {purchase.user.email}'s wallet."

        intro = (f"Refund {naira(purchase.amount_kobo)} of {purchase.reference} ({purchase.status}) from the refunds "
                 "account. Only a successful (delivered) purchase can be refunded; the provider keeps its payment.")
        return object_action(request, self, target=purchase, verb="Refund", form_class=ReasonForm, call=call,
                             done_url=change_url(purchase), intro=intro)


@admin.register(ProviderCall)
class ProviderCallAdmin(ReadOnlyAdmin):
    """Every exchange with a provider: read-only, searchable; secrets redacted."""

    list_display = ("created_at", "provider", "operation", "status_code", "error", "latency_ms", "request_id", "purchase")
    list_filter = ("provider", "operation", "error")
    search_fields = ("=request_id", "=purchase__reference")
    search_help_text = "Request id or purchase reference."
    date_hierarchy = "created_at"
    list_select_related = ("purchase",)
    fields = ("created_at", "provider", "operation", "purchase", "attempt", "method", "url_redacted", "status_code",
              "error", "latency_ms", "request_id", "request", "response")
    readonly_fields = ("url_redacted", "request", "response")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)

    @admin.display(description="url")
    def url_redacted(self, call: ProviderCall) -> str:
        return redacted_url(call.url)

    @admin.display(description="request body (redacted)")
    def request(self, call: ProviderCall) -> str:
        return provider_json(call.request_body)

    @admin.display(description="response body (redacted)")
    def response(self, call: ProviderCall) -> str:
        return provider_json(call.response_body)


@admin.register(ProviderCallback)
class ProviderCallbackAdmin(ReadOnlyAdmin):
    """Every callback a provider sent us (R6), kept for disputes: read-only, searchable. A
    callback never settles money; its verdict says what it did (at most, queue a requery)."""

    list_display = ("received_at", "provider", "method", "request_id", "verdict", "purchase", "remote_ip", "body_bytes")
    list_filter = ("provider", "verdict")
    search_fields = ("=request_id", "=purchase__reference")
    search_help_text = "Request id or purchase reference."
    date_hierarchy = "received_at"
    list_select_related = ("purchase",)
    fields = ("received_at", "provider", "method", "remote_ip", "request_id", "purchase", "verdict", "body_bytes",
              "headers", "body")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)


# --- disputes ----------------------------------------------------------------------------------


class DisputeResolveForm(ReasonForm):
    outcome = forms.ChoiceField(
        choices=[("refund", "Refund (or close as returned if the purchase already failed)"),
                 ("delivered", "Delivered: no refund (give the evidence)")],
        widget=forms.RadioSelect,
    )
    evidence = forms.CharField(
        required=False, max_length=1000, strip=True, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Required for delivered: provider reference, portal check, network confirmation.",
    )
    field_order = ["outcome", "evidence", "reason"]


class DisputeStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Dispute.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """The dispute queue: oldest open first. Requery, then decide with a reason."""

    list_display = ("id", "purchase", "user", "purchase_status", "purchase_amount", "status", "created_at", "resolved_at")
    list_filter = (DisputeStatusFilter,)
    search_fields = ("=purchase__reference", "user__email", "=purchase__phone")
    list_select_related = ("purchase", "user")
    ordering = (F("resolved_at").asc(nulls_first=True), "id")  # open (undecided) first, oldest first
    actions = ("requery_disputes",)
    change_form_template = "admin/vtu/dispute/change_form.html"
    readonly_fields = ("purchase_summary",)

    @admin.display(description="purchase status")
    def purchase_status(self, dispute: Dispute) -> str:
        return dispute.purchase.status

    @admin.display(description="amount")
    def purchase_amount(self, dispute: Dispute) -> str:
        return naira(dispute.purchase.amount_kobo)

    @admin.display(description="the purchase")
    def purchase_summary(self, dispute: Dispute) -> str:
        purchase = dispute.purchase
        return format_html(
            '<a href="{}">{}</a>: {} to {}, {} (provider {}, reference {}); made {}',
            change_url(purchase), purchase.reference, naira(purchase.amount_kobo), purchase.phone, purchase.status,
            purchase.provider or "—", purchase.provider_reference or "—", f"{purchase.created_at:%Y-%m-%d %H:%M}",
        )

    def has_dispute_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DISPUTE_PERM)

    @admin.action(permissions=["dispute"], description="Requery the disputed purchases")
    def requery_disputes(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        actor = Actor.from_request(request)
        for dispute in queryset.order_by("pk"):
            try:
                disputes.dispute_requery(staff=actor, dispute_id=dispute.pk)
            except ApiError as error:
                self.message_user(request, f"Dispute {dispute.pk}: {error.detail}", messages.WARNING)
        self.message_user(request, "Requery sent; look at the purchases' status before deciding.")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/requery/", wrap(self.requery_view), name="vtu_dispute_requery"),
            path("<int:pk>/resolve/", wrap(self.resolve_view), name="vtu_dispute_resolve"),
            *super().get_urls(),
        ]

    def _dispute(self, pk: int) -> Dispute:
        dispute = Dispute.objects.select_related("purchase", "user").filter(pk=pk).first()
        if dispute is None:
            raise Http404("No such dispute.")
        return dispute

    def requery_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, DISPUTE_PERM)
        dispute = self._dispute(pk)

        def call(_data: dict[str, Any]) -> str:
            disputes.dispute_requery(staff=Actor.from_request(request), dispute_id=dispute.pk)
            return f"Requery of {dispute.purchase.reference} sent."

        return object_action(request, self, target=dispute, verb="Requery", form_class=forms.Form, call=call,
                             done_url=change_url(dispute),
                             intro=f"Ask the provider again about {dispute.purchase.reference} (now {dispute.purchase.status}).")

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, DISPUTE_PERM)
        dispute = self._dispute(pk)

        def call(data: dict[str, Any]) -> str:
            # Refunding moves money: it also takes the refund permission (finance, admin). The
            # service checks it under the purchase's row lock, against the status it locked.
            try:
                done = disputes.dispute_resolve(staff=Actor.from_request(request), dispute_id=dispute.pk,
                                                outcome=data["outcome"], reason=data["reason"],
                                                evidence=data["evidence"], may_refund=request.user.has_perm(REFUND_PERM))
            except errors.PermissionDenied as refused:
                raise PermissionDenied from refused
            return f"Dispute {done.pk} resolved: {done.status}. The customer is e-mailed the outcome."

        intro = (f"{dispute.user.email} says: “{dispute.reason}”. Purchase {dispute.purchase.reference}: "
                 f"{naira(dispute.purchase.amount_kobo)} to {dispute.purchase.phone}, now {dispute.purchase.status}. "
                 "A purchase still pending or processing cannot be decided: requery it first.")
        return object_action(request, self, target=dispute, verb="Resolve", form_class=DisputeResolveForm, call=call,
                             done_url=change_url(dispute), intro=intro)
