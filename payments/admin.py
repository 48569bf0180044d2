"""Back office for funding: deposits, webhook deliveries (forged ones too, with their
signature verdict) and events (with their outcome). Read-only; staff act through services,
each with a reason and an audit record:

- re-process a webhook event (payments.webhooks.webhook_event_reprocess: verifies with the
  gateway again; money moves at most once, whatever the number of re-runs);
- decide a deposit in review (payments.services.deposit_resolve: credit what the gateway
  says was paid, or fail it).

Who may: backoffice.deposit_reprocess (finance, admin; backoffice/roles.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join

from audit.admin_actions import ReasonForm, bulk_action, object_action, require_perm
from audit.services import Actor
from payments import services, webhooks
from payments.models import Deposit, VirtualAccount, WebhookDelivery, WebhookEvent

REPROCESS_PERM = "backoffice.deposit_reprocess"


def naira(kobo: int | None) -> str:
    if kobo is None:
        return "—"
    return f"₦{kobo // 100:,}.{kobo % 100:02d}"


def _change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DepositResolveForm(ReasonForm):
    action = forms.ChoiceField(
        choices=[("credit", "Credit what the gateway says was paid (asks the gateway again)"), ("fail", "Fail it")],
        widget=forms.RadioSelect, label="Decision",
    )
    field_order = ["action", "reason"]


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("reference", "user", "gateway", "source", "amount", "credited", "reversed", "status", "created_at",
                    "succeeded_at")
    list_filter = ("status", "gateway", "source", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=reference", "=gateway_reference", "=gateway_transaction_id", "user__email")
    search_help_text = "Our reference, the gateway's reference or transaction id, or the customer's e-mail."
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = ("events_and_verdicts", "refunds_and_chargebacks")
    change_form_template = "admin/payments/deposit/change_form.html"
    # Read-only, but Django still builds a form for the page: name the URL scheme it assumes.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="amount", ordering="amount_kobo")
    def amount(self, deposit: Deposit) -> str:
        return naira(deposit.amount_kobo)

    @admin.display(description="credited")
    def credited(self, deposit: Deposit) -> str:
        return naira(deposit.credited_kobo)

    @admin.display(description="taken back")
    def reversed(self, deposit: Deposit) -> str:
        return naira(deposit.reversed_kobo) if deposit.reversed_kobo else "—"

    @admin.display(description="refunds and lost disputes (ADR 0005)")
    def refunds_and_chargebacks(self, deposit: Deposit) -> str:
        # A display method, not an inline: every role that may see the deposit sees these.
        reversals = list(deposit.reversals.order_by("id"))
        if not reversals:
            return "—"
        return format_html_join(
            "", "<p>{} {} {}: {} (wallet {}, fee given back {}) — {}</p>",
            ((f"{r.created_at:%Y-%m-%d %H:%M}", r.kind, r.key, naira(r.amount_kobo), naira(r.wallet_kobo),
              naira(r.revenue_kobo), r.journal_key) for r in reversals),
        )

    @admin.display(description="webhook events (outcome; signature verdict of each delivery)")
    def events_and_verdicts(self, deposit: Deposit) -> str:
        events = list(deposit.events.prefetch_related("deliveries").order_by("id"))
        if not events:
            return "—"
        return format_html_join(
            "", '<p><a href="{}">event {}</a> {}: <b>{}</b> {}; deliveries: {}</p>',
            ((_change_url(event), event.pk, event.event_type, event.outcome, event.error[:200],
              ", ".join(f"{d.received_at:%Y-%m-%d %H:%M:%S} {d.verdict}" for d in event.deliveries.all()) or "—")
             for event in events),
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/resolve/", wrap(self.resolve_view), name="payments_deposit_resolve"), *super().get_urls()]

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, REPROCESS_PERM)
        deposit = Deposit.objects.select_related("user").filter(pk=pk).first()
        if deposit is None:
            raise Http404("No such deposit.")

        def call(data: dict[str, Any]) -> str:
            done = services.deposit_resolve(deposit_id=deposit.pk, action=data["action"],
                                            actor=Actor.from_request(request), reason=data["reason"])
            return f"Deposit {done.reference}: {done.status}" + (f", credited {naira(done.credited_kobo)}." if done.credited_kobo else ".")

        intro = (f"Deposit {deposit.reference} of {deposit.user.email} via {deposit.gateway}: asked "
                 f"{naira(deposit.amount_kobo)}, gateway says paid {naira(deposit.paid_kobo)}; {deposit.status}"
                 f"{': ' + deposit.status_reason if deposit.status_reason else ''}. Only a deposit in review is decided here.")
        return object_action(request, self, target=deposit, verb="Decide", form_class=DepositResolveForm, call=call,
                             done_url=_change_url(deposit), intro=intro)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fk_name = "event"
    fields = ("received_at", "verdict", "reason", "remote_ip")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "gateway", "verdict", "reason", "remote_ip", "received_at", "event")
    list_filter = ("verdict", "gateway")
    search_fields = ("reason", "=remote_ip")
    exclude = ("body",)
    readonly_fields = ("body_text",)
    date_hierarchy = "received_at"

    @admin.display(description="body")
    def body_text(self, obj: WebhookDelivery) -> str:
        return bytes(obj.body).decode("utf-8", "replace")[:20_000]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "gateway", "event_type", "kind", "reference", "outcome", "error", "attempts", "processed_at")
    list_filter = ("outcome", "gateway", "kind")
    search_fields = ("=dedupe_key", "=reference", "=gateway_transaction_id")
    date_hierarchy = "received_at"
    inlines = [DeliveryInline]
    actions = ("reprocess_events",)
    change_form_template = "admin/payments/webhookevent/change_form.html"

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPROCESS_PERM)

    @admin.action(permissions=["reprocess"], description="Re-process the selected events (asks for a reason)")
    def reprocess_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="reprocess_events", verb="Re-process",
            call=lambda event, data: webhooks.webhook_event_reprocess(event_id=event.pk, actor=actor, reason=data["reason"]),
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [path("<int:pk>/reprocess/", wrap(self.reprocess_view), name="payments_webhookevent_reprocess"),
                *super().get_urls()]

    def reprocess_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, REPROCESS_PERM)
        event = WebhookEvent.objects.filter(pk=pk).first()
        if event is None:
            raise Http404("No such webhook event.")

        def call(data: dict[str, Any]) -> str:
            outcome = webhooks.webhook_event_reprocess(event_id=event.pk, actor=Actor.from_request(request),
                                                       reason=data["reason"])
            return f"Event {event.pk} re-processed: {outcome}."

        intro = (f"{event.gateway} {event.event_type} {event.reference}: now {event.outcome}. Re-processing asks the "
                 "gateway again; money moves at most once.")
        return object_action(request, self, target=event, verb="Re-process", form_class=ReasonForm, call=call,
                             done_url=_change_url(event), intro=intro)


@admin.register(VirtualAccount)
class VirtualAccountAdmin(ReadOnlyAdmin):
    list_display = ("account_number", "bank_name", "gateway", "user", "active", "created_at")
    list_filter = ("gateway", "active")
    search_fields = ("=account_number", "user__email", "=customer_reference")
    list_select_related = ("user",)
