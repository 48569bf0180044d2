"""Back office for pricing rules: every save, delete and bulk change goes through
pricing.services (validated, audited), never a bare .save(), and carries the staff member's
reason: the add and change forms have a required Reason field; activate, deactivate and
delete are change-list actions that ask for one (no bare delete page)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from audit.admin_actions import bulk_action
from audit.services import Actor
from config.errors import ApiError
from pricing import services
from pricing.models import PricingRule

BULK_PERMISSION = "backoffice.pricing_bulk_update"


class PricingRuleForm(forms.ModelForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), max_length=500, strip=True,
        help_text="Required. Saved in the audit log with your name and the fields you changed.",
    )

    class Meta:
        model = PricingRule
        fields = [
            "label", "kind", "network", "plan_type", "plan_code", "audience", "user", "method", "amount_kobo",
            "rate_bps", "starts_at", "ends_at", "is_promotion", "active",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        values = {**data, "user_id": data["user"].pk if data.get("user") else None}
        values.pop("user", None)
        problems = services.rule_problems(values)
        for field, messages_ in problems.items():
            self.add_error("user" if field == "user_id" else field, messages_)
        if not problems:
            values = {**services.RULE_DEFAULTS, **values}
            existing = services.standing_duplicate(values, exclude_id=self.instance.pk)
            if existing is not None:
                self.add_error(None, f"A standing rule for this scope and audience exists (#{existing.pk}): edit it instead.")
        return data

    def validate_constraints(self, exclude: Any = None) -> None:
        # The service checks the same constraints with clearer messages (clean above).
        return None


MARKUP_CHOICES = [("flat", "flat (kobo)"), ("percent", "percent (bps)"), ("discount", "discount (bps, airtime)")]


class MarkupActionForm(ActionForm):
    method = forms.ChoiceField(required=False, choices=[("", "markup method..."), *MARKUP_CHOICES])
    amount_kobo = forms.IntegerField(required=False, min_value=0, label="kobo")
    rate_bps = forms.IntegerField(required=False, min_value=0, label="bps")
    reason = forms.CharField(required=False, max_length=500, label="reason")


class BulkMarkupForm(forms.Form):
    """Every markup rule of a network and/or plan type (optionally one audience) at once."""

    kind = forms.ChoiceField(choices=PricingRule.Kind.choices)
    network = forms.ChoiceField(choices=PricingRule.Network.choices, required=False)
    plan_type = forms.ChoiceField(choices=PricingRule.PlanType.choices, required=False)
    audience = forms.ChoiceField(choices=[("", "Every audience"), *PricingRule.Audience.choices], required=False)
    method = forms.ChoiceField(choices=MARKUP_CHOICES)
    amount_kobo = forms.IntegerField(required=False, min_value=0, label="Flat markup (kobo)")
    rate_bps = forms.IntegerField(required=False, min_value=0, label="Percent or discount (basis points)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=500, strip=True,
                             help_text="Required. Saved in the audit log with your name.")


@admin.register(PricingRule)
class PricingRuleAdmin(admin.ModelAdmin):
    form = PricingRuleForm
    action_form = MarkupActionForm
    actions = ["set_markup", "activate", "deactivate", "delete_rules"]
    list_display = (
        "__str__", "kind", "network", "plan_type", "plan_code", "audience", "user", "method", "value",
        "starts_at", "ends_at", "is_promotion", "active",
    )
    list_filter = ("kind", "network", "plan_type", "audience", "method", "is_promotion", "active")
    search_fields = ("label", "plan_code", "user__email")
    raw_id_fields = ("user",)
    list_select_related = ("user",)

    @admin.display(description="value")
    def value(self, rule: PricingRule) -> str:
        if rule.method in (PricingRule.Method.FLAT, PricingRule.Method.FIXED):
            return f"₦{(rule.amount_kobo or 0) / 100:,.2f}"
        return f"{(rule.rate_bps or 0) / 100:g}%"

    def save_model(self, request: HttpRequest, obj: PricingRule, form: forms.ModelForm, change: bool) -> None:
        actor = Actor.for_user(request.user)
        fields = {name: form.cleaned_data.get(name) for name in PricingRuleForm.Meta.fields if name != "user"}
        fields["user_id"] = form.cleaned_data["user"].pk if form.cleaned_data.get("user") else None
        for name in ("network", "plan_type", "plan_code", "label"):
            fields[name] = fields[name] or ""
        reason = form.cleaned_data["reason"]
        if change:
            saved = services.pricing_rule_update(rule_id=obj.pk, actor=actor, reason=reason, **fields)
        else:
            saved = services.pricing_rule_create(actor=actor, reason=reason, **fields)
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Django's delete page asks no reason: the "Delete" action below does

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("pricing.delete_pricingrule")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.bulk_markup_view)
        return [path("bulk-markup/", view, name="pricing_pricingrule_bulk_markup"), *super().get_urls()]

    def bulk_markup_view(self, request: HttpRequest) -> HttpResponse:
        """Change the markup of every markup rule of a network and/or plan type (fixed prices
        are left alone: pricing.services.pricing_rules_bulk_markup)."""
        if not self.has_bulk_permission(request):
            raise PermissionDenied
        form = BulkMarkupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                changed = services.pricing_rules_bulk_markup(
                    kind=data["kind"], method=data["method"], network=data["network"], plan_type=data["plan_type"],
                    audience=data["audience"], amount_kobo=data["amount_kobo"], rate_bps=data["rate_bps"],
                    actor=Actor.from_request(request), reason=data["reason"],
                )
            except ApiError as error:
                form.add_error(None, f"Nothing changed: {error.detail} {error.errors}")
            else:
                self.message_user(request, f"Markup set on {changed} rule(s).", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:pricing_pricingrule_changelist"))
        context = {
            **self.admin_site.each_context(request), "title": "Bulk markup by network or plan type", "opts": self.opts,
            "form": form, "verb": "Set the markup", "target": None,
            "intro": "Every flat, percent or discount rule in the scope gets this markup; fixed prices are left alone.",
        }
        return TemplateResponse(request, "backoffice/action_reason.html", context)

    def has_bulk_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(BULK_PERMISSION) or request.user.has_perm("pricing.change_pricingrule")

    @admin.action(description="Set this markup on the selected rules (filter by network or plan type first)",
                  permissions=["bulk"])
    def set_markup(self, request: HttpRequest, queryset: QuerySet[PricingRule]) -> None:
        method = request.POST.get("method") or ""
        amount = _integer(request.POST.get("amount_kobo"))
        rate = _integer(request.POST.get("rate_bps"))
        reason = (request.POST.get("reason") or "").strip()
        if not reason:
            self.message_user(request, "Nothing changed: give a reason (saved in the audit log).", messages.ERROR)
            return
        try:
            changed = services.pricing_rules_set_markup(
                rule_ids=list(queryset.values_list("pk", flat=True)), method=method, amount_kobo=amount,
                rate_bps=rate, actor=Actor.from_request(request), reason=reason,
            )
        except ApiError as error:
            self.message_user(request, f"Nothing changed: {error.detail} {error.errors}", messages.ERROR)
            return
        self.message_user(request, f"Markup set on {changed} rule(s).", messages.SUCCESS)

    @admin.action(description="Activate the selected rules (asks for a reason)", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[PricingRule]) -> HttpResponse | None:
        return self._set_active(request, queryset, True)

    @admin.action(description="Deactivate the selected rules (asks for a reason)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[PricingRule]) -> HttpResponse | None:
        return self._set_active(request, queryset, False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[PricingRule], active: bool) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="activate" if active else "deactivate",
            verb="Activate" if active else "Deactivate",
            call=lambda rule, data: services.pricing_rule_update(rule_id=rule.pk, actor=actor, reason=data["reason"],
                                                                 active=active),
        )

    @admin.action(description="Delete the selected rules (asks for a reason)", permissions=["remove"])
    def delete_rules(self, request: HttpRequest, queryset: QuerySet[PricingRule]) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="delete_rules", verb="Delete",
            call=lambda rule, data: services.pricing_rule_delete(rule_id=rule.pk, actor=actor, reason=data["reason"]),
        )


def _integer(value: str | None) -> int | None:
    return int(value) if value not in (None, "") and value.lstrip("-").isdigit() else None
