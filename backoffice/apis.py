"""The staff API under /api/v1/admin/: JWT of an active staff member only (never an API key),
each view guarded by one backoffice permission (backoffice/roles.py says which group holds
it). Writes are audited by the services they call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.models import User
from audit.services import Actor
from backoffice import analytics
from backoffice.staff_rules import ensure_may_change_user
from config.api.fields import StrictCharField
from config.api.parsing import parse
from config.api.permissions import HasStaffPermission, NotSuspendedForWrites
from config.errors import ApiError

STAFF_PERMISSIONS = [IsAuthenticated, HasStaffPermission, NotSuspendedForWrites]


class StaffUserOutput(serializers.ModelSerializer):
    suspended = serializers.BooleanField(source="is_suspended", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "kyc_tier", "suspended", "suspended_at", "suspension_reason"]
        read_only_fields = fields


class UserStandingInput(serializers.Serializer):
    # Missing or blank is REASON_REQUIRED (from the service); only type and length are checked here.
    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=1000)


# Staff endpoints take a staff member's JWT only; API keys are refused (the schema says so).
JWT_ONLY = [{"jwtAuth": []}]


class _UserStandingApi(APIView):
    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.user_suspend"
    service: Any = None
    InputSerializer = UserStandingInput

    def post(self, request: Request, user_id: int) -> Response:
        data = parse(self.InputSerializer, request.data)
        ensure_may_change_user(staff=request.user, user_id=user_id)
        user = type(self).service(staff=Actor.from_request(request), user_id=user_id, reason=data["reason"])
        return Response(StaffUserOutput(user).data)


class UserSuspendApi(_UserStandingApi):
    service = staticmethod(account_services.user_suspend)

    @extend_schema(
        request=UserStandingInput, responses={200: StaffUserOutput}, auth=JWT_ONLY,
        summary="Suspend a user (staff; reason required, audited)",
    )
    def post(self, request: Request, user_id: int) -> Response:
        return super().post(request, user_id)


class UserActivateApi(_UserStandingApi):
    service = staticmethod(account_services.user_activate)

    @extend_schema(
        request=UserStandingInput, responses={200: StaffUserOutput}, auth=JWT_ONLY,
        summary="Re-activate a suspended user (staff; reason required, audited)",
    )
    def post(self, request: Request, user_id: int) -> Response:
        return super().post(request, user_id)


ANALYTICS_OUTPUT = inline_serializer(
    "StaffAnalytics",
    {
        "range": serializers.DictField(),
        "unavailable": serializers.ListField(child=serializers.CharField()),
        "alerts_open": serializers.DictField(child=serializers.IntegerField()),
        "purchases": serializers.DictField(required=False),
        "success_by_network": serializers.ListField(child=serializers.DictField(), required=False),
        "success_by_provider": serializers.ListField(child=serializers.DictField(), required=False),
        "queue": serializers.DictField(child=serializers.IntegerField(), required=False),
        "deposits": serializers.DictField(child=serializers.IntegerField(), required=False),
        "deposits_by_gateway": serializers.ListField(child=serializers.DictField(), required=False),
        "provider_float": serializers.ListField(child=serializers.DictField(), required=False),
        "ledger_float": serializers.ListField(child=serializers.DictField(), required=False),
        "sales_by_product": serializers.ListField(child=serializers.DictField(), required=False),
        "sales_by_channel": serializers.ListField(child=serializers.DictField(), required=False),
        "disputes": serializers.DictField(required=False),
        "ledger_check": serializers.DictField(required=False, allow_null=True),
        "daily": serializers.ListField(child=serializers.DictField()),
    },
)


class AnalyticsApi(APIView):
    permission_classes = STAFF_PERMISSIONS
    staff_permission = "backoffice.analytics_view"

    class QuerySerializer(serializers.Serializer):
        date_from = serializers.DateField(required=False)
        date_to = serializers.DateField(required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="First Lagos day; default: 29 days before date_to"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last Lagos day, inclusive; default: today"),
        ],
        responses={200: ANALYTICS_OUTPUT}, auth=JWT_ONLY,
        summary="Business figures for a date range (staff); the dashboard shows the same",
    )
    def get(self, request: Request) -> Response:
        query = parse(self.QuerySerializer, request.query_params.dict())
        date_to = query.get("date_to") or analytics.lagos_today()
        date_from = query.get("date_from") or date_to - timedelta(days=29)
        try:
            return Response(analytics.report(start=date_from, end=date_to))
        except ValueError as error:  # reversed or too long a range
            raise ApiError(code="VALIDATION_ERROR", detail=str(error), errors={"date_from": [str(error)]}) from None
