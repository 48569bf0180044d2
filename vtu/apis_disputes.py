"""Disputes API: the owner of a purchase disputes it; the customer lists their disputes and
their status. Staff decide them in the console (vtu/disputes.py, backoffice)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from config.api.fields import StrictCharField
from config.api.pagination import PageNumberPagination
from config.api.parsing import parse
from vtu import disputes


class DisputeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    purchase_reference = serializers.CharField(source="purchase.reference")
    purchase_status = serializers.CharField(source="purchase.status", help_text="The purchase's status now.")
    reason = serializers.CharField()
    # A plain string in the schema (documented here) so the enum does not collide with the
    # purchase's own `status` enum.
    status = serializers.CharField(help_text="open | delivered | refunded | returned")
    resolution = serializers.CharField(source="resolution_reason", help_text="Staff's note once decided; empty while open.")
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class DisputePage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DisputeOutput(many=True)


class PurchaseDisputeApi(APIView):
    """Dispute one of your purchases (e.g. debited but not delivered): once per purchase,
    within DISPUTE_WINDOW_HOURS of making it. Staff requery it and decide; you are e-mailed
    the outcome. A reseller's API key needs the `purchase` scope."""

    api_key_scope = "purchase"

    class InputSerializer(serializers.Serializer):
        reason = StrictCharField(max_length=1000, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses={201: DisputeOutput}, operation_id="purchase_dispute",
        summary="Dispute a purchase (owner only, once, within the window)",
        description="Errors: REASON_REQUIRED, NOT_FOUND (no such purchase of yours), ALREADY_DISPUTED, "
        "DISPUTE_WINDOW_CLOSED, INVALID_STATE (the purchase failed or was reversed or refunded: the money is "
        "already back).",
    )
    def post(self, request: Request, reference: str) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"reason": "REASON_REQUIRED"})
        dispute = disputes.dispute_open(
            user=request.user, reference=reference, reason=data["reason"], actor=Actor.from_request(request)
        )
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)


class DisputeListApi(APIView):
    @extend_schema(responses={200: DisputePage}, operation_id="disputes_list",
                   summary="Your disputes with their status, newest first (paginated)")
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(disputes.disputes_for_user(user=request.user), request, view=self)
        return paginator.get_paginated_response(DisputeOutput(page, many=True).data)

