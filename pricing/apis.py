"""Staff pricing API: GET/POST /api/v1/admin/pricing (the seed path). Thin: parse, one
service call, render. Staff only (never an API key), with the pricing rule model permissions
(finance reads, admin writes: backoffice/roles.py), checked before the body is parsed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from config.api.fields import MAX_KOBO, StrictCharField
from config.api.pagination import PageNumberPagination
from config.api.parsing import parse
from config.api.permissions import HasStaffPermission, NotSuspendedForWrites
from config.errors import PermissionDenied
from pricing import selectors, services
from pricing.models import MAX_MARKUP_BPS, PricingRule


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "500", 500.0 and true are refused (as KoboField does for money)."""

    default_error_messages = {"not_an_integer": "Must be a JSON integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class PricingRuleOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(allow_null=True, read_only=True)
    description = serializers.CharField(source="describe", read_only=True)

    class Meta:
        model = PricingRule
        fields = [
            "id", "label", "kind", "network", "plan_type", "plan_code", "audience", "user_id", "method",
            "amount_kobo", "rate_bps", "starts_at", "ends_at", "is_promotion", "active", "description",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


class PricingRulePage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PricingRuleOutput(many=True)


class PricingRulesAdminApi(APIView):
    permission_classes = [HasStaffPermission, NotSuspendedForWrites]
    # A POST creates (add) or updates (change) a rule: both are the admin group's; the exact
    # one is checked again once the body says which.
    staff_permissions = {"GET": "pricing.view_pricingrule", "POST": "pricing.change_pricingrule"}

    class InputSerializer(serializers.Serializer):
        id = StrictIntegerField(required=False, min_value=1, help_text="Update this rule; omit to create one.")
        label = StrictCharField(max_length=120, required=False, allow_blank=True)
        kind = serializers.ChoiceField(PricingRule.Kind.choices, required=False)
        network = serializers.ChoiceField(PricingRule.Network.choices, required=False, allow_blank=True)
        plan_type = serializers.ChoiceField(PricingRule.PlanType.choices, required=False, allow_blank=True)
        plan_code = StrictCharField(max_length=64, required=False, allow_blank=True)
        audience = serializers.ChoiceField(PricingRule.Audience.choices, required=False)
        user_id = StrictIntegerField(required=False, allow_null=True, min_value=1)
        method = serializers.ChoiceField(PricingRule.Method.choices, required=False)
        amount_kobo = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_KOBO)
        rate_bps = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_MARKUP_BPS)
        starts_at = serializers.DateTimeField(required=False, allow_null=True)
        ends_at = serializers.DateTimeField(required=False, allow_null=True)
        is_promotion = serializers.BooleanField(required=False)
        active = serializers.BooleanField(required=False)
        reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if "id" not in attrs:
                missing = {field: ["Required to create a rule."] for field in ("kind", "method") if field not in attrs}
                if missing:
                    raise serializers.ValidationError(missing)
            return attrs

    @extend_schema(responses={200: PricingRulePage}, summary="List pricing rules (staff, paginated)")
    def get(self, request: Request) -> Response:
        self._require(request, "view")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.rules_list(), request, view=self)
        return paginator.get_paginated_response(PricingRuleOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={200: PricingRuleOutput, 201: PricingRuleOutput},
        summary="Create (no id) or update (with id) a pricing rule (staff)",
        description="Audited as pricing_rule.create / pricing_rule.update. A second standing rule for the "
        "same scope and audience answers 409 ALREADY_EXISTS with the existing id; nothing is stored on "
        "any rejection.",
    )
    def post(self, request: Request) -> Response:
        data = dict(parse(self.InputSerializer, request.data))
        actor, reason, rule_id = Actor.from_request(request), data.pop("reason"), data.pop("id", None)
        if rule_id is None:
            self._require(request, "add")
            rule = services.pricing_rule_create(actor=actor, reason=reason, **data)
            return Response(PricingRuleOutput(rule).data, status=status.HTTP_201_CREATED)
        self._require(request, "change")
        rule = services.pricing_rule_update(rule_id=rule_id, actor=actor, reason=reason, **data)
        return Response(PricingRuleOutput(rule).data)

    @staticmethod
    def _require(request: Request, action: str) -> None:
        if not request.user.has_perm(f"pricing.{action}_pricingrule"):
            raise PermissionDenied(f"You may not {action} pricing rules.")
