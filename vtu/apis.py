"""Data and airtime API under /api/v1/. Thin: parse, check the PIN, call one service, render.

POST purchases answer 202 with the purchase (it settles asynchronously: poll
GET /purchases/{reference} or receive the reseller callback); a client `reference` seen
before with the same body answers 200 with the original purchase.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.errors import PinRequired
from accounts.services import pin_check
from audit.services import Actor
from config.api import pagination
from config.api.fields import KoboField, PinField, StrictBooleanField, StrictCharField
from config.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from config.api.idempotency import answer_store, idempotent
from config.api.pagination import CursorPagination
from config.api.parsing import parse
from config.api.permissions import HasStaffPermission, NotSuspendedForWrites
from config.errors import ApiError
from vtu import selectors
from vtu.models import ProductKind, Purchase
from vtu.services import catalogue
from vtu.services.notify import purchase_payload
from vtu.services.purchases import PurchaseRequest, purchase_create

FIELD_CODES = {"phone_number": "INVALID_PHONE_NUMBER", "amount": "INVALID_AMOUNT", "pin": "PIN_INVALID"}


class PurchaseOutput(serializers.Serializer):
    """Rendered by vtu.services.notify.purchase_payload (the same body callbacks carry)."""

    reference = serializers.CharField()
    client_reference = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Purchase.Status.choices)
    product = serializers.ChoiceField(choices=ProductKind.choices)
    network = serializers.CharField()
    plan_code = serializers.CharField(allow_null=True)
    plan_name = serializers.CharField(allow_null=True)
    phone_number = serializers.CharField(help_text="E.164")
    ported = serializers.BooleanField()
    amount = serializers.IntegerField(help_text="Price paid, kobo")
    face_value = serializers.IntegerField(allow_null=True, help_text="Airtime face value, kobo")
    message = serializers.CharField()
    provider_reference = serializers.CharField(allow_null=True)
    token = serializers.CharField(allow_null=True)
    needs_review = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Purchase) -> dict[str, Any]:
        return purchase_payload(instance)


class PurchasePage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PurchaseOutput(many=True)


def _via_api_key(request: Request) -> bool:
    return getattr(request, "api_key", None) is not None


def _check_pin(request: Request, pin: str | None) -> None:
    """A JWT request needs the transaction PIN; an API key with the purchase scope does not."""
    if _via_api_key(request):
        return
    if not pin:
        raise PinRequired()
    pin_check(user=request.user, pin=pin)


def _purchase_response(request: Request, purchase_request: PurchaseRequest) -> Response:
    """202 for a new purchase (and for the retry of one whose answer was never stored: same
    Idempotency-Key), 200 for a client reference seen before with the same request. The
    Idempotency-Key answer of a new purchase is stored in the purchase's own transaction."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    purchase_request = replace(purchase_request, idempotency_key=key)

    answered: list[dict[str, Any]] = []

    def answer(purchase: Purchase) -> None:
        answered.append(purchase_payload(purchase))  # PurchaseOutput's shape, without an instance per request
        answer_store(request, status=status.HTTP_202_ACCEPTED, body=answered[0])

    purchase, created = purchase_create(
        user=request.user, request=purchase_request, via_api_key=_via_api_key(request), answer=answer
    )
    same_key = bool(key) and purchase.idempotency_key == key
    code = status.HTTP_202_ACCEPTED if created or same_key else status.HTTP_200_OK
    return Response(answered[0] if created else purchase_payload(purchase), status=code)


class _PurchaseInput(serializers.Serializer):
    phone_number = StrictCharField(max_length=32)
    pin = PinField(required=False)
    ported = StrictBooleanField(required=False, default=False)
    confirm_duplicate = StrictBooleanField(required=False, default=False)
    reference = StrictCharField(required=False, max_length=100, help_text="Your own reference, unique forever")


class DataPurchaseApi(APIView):
    api_key_scope = "purchase"

    class InputSerializer(_PurchaseInput):
        plan_code = StrictCharField(max_length=64)
        network = StrictCharField(required=False, max_length=16)

    @extend_schema(
        request=InputSerializer, responses={202: PurchaseOutput, 200: PurchaseOutput},
        summary="Buy a data plan (202: accepted; settles asynchronously)",
    )
    @idempotent(answer_with_result=True)
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes=FIELD_CODES)
        _check_pin(request, data.get("pin"))
        return _purchase_response(request, PurchaseRequest(
            product=ProductKind.DATA, phone_number=data["phone_number"], plan_code=data["plan_code"],
            network=data.get("network"), ported=data["ported"], confirm_duplicate=data["confirm_duplicate"],
            client_reference=data.get("reference", ""),
        ))


class AirtimePurchaseApi(APIView):
    api_key_scope = "purchase"

    class InputSerializer(_PurchaseInput):
        network = StrictCharField(max_length=16)
        amount = KoboField(help_text="Face value in kobo, whole naira (a multiple of 100)")

    @extend_schema(
        request=InputSerializer, responses={202: PurchaseOutput, 200: PurchaseOutput},
        summary="Buy airtime (202: accepted; settles asynchronously)",
    )
    @idempotent(answer_with_result=True)
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes=FIELD_CODES)
        _check_pin(request, data.get("pin"))
        return _purchase_response(request, PurchaseRequest(
            product=ProductKind.AIRTIME, phone_number=data["phone_number"], network=data["network"],
            amount_kobo=data["amount"], ported=data["ported"], confirm_duplicate=data["confirm_duplicate"],
            client_reference=data.get("reference", ""),
        ))


class PlanOutput(serializers.Serializer):
    code = serializers.CharField(source="plan.code")
    network = serializers.CharField(source="plan.network.code")
    name = serializers.CharField(source="plan.name")
    plan_type = serializers.CharField(source="plan.plan_type")
    size_mb = serializers.IntegerField(source="plan.size_mb")
    validity_days = serializers.IntegerField(source="plan.validity_days")
    price = serializers.IntegerField(source="price_kobo", help_text="Your price, kobo")


class PlanPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PlanOutput(many=True)


class PlanPagination(pagination.PageNumberPagination):
    """Page numbers like every list (DESIGN §7), sized so the whole catalogue (a few dozen
    plans) comes in one page: clients read `results` and follow `next` if it is ever set."""

    page_size = 100
    max_page_size = 500


class DataPlansApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("network", str, description="MTN, AIRTEL, GLO or 9MOBILE"),
            OpenApiParameter("page", int, description="Page number (default 1)"),
            OpenApiParameter("page_size", int, description="Plans per page (default 100, at most 500)"),
        ],
        responses={200: PlanPage}, summary="Data plans at your prices (paginated, 100 a page)",
    )
    def get(self, request: Request) -> Response:
        plans = selectors.plans_for_user(
            user=request.user, network=request.query_params.get("network"), via_api_key=_via_api_key(request)
        )
        paginator = PlanPagination()
        page = paginator.paginate_queryset(plans, request, view=self)
        return paginator.get_paginated_response(PlanOutput(page, many=True).data)


class PurchaseListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("client_reference", str, description="Find by your own reference")],
        responses={200: PurchasePage}, summary="Your purchases, newest first (cursor pagination)",
        operation_id="purchases_list",
    )
    def get(self, request: Request) -> Response:
        purchases = selectors.purchases_for_user(
            user=request.user, client_reference=request.query_params.get("client_reference")
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(purchases, request, view=self)
        return paginator.get_paginated_response(PurchaseOutput(page, many=True).data)


class PurchaseDetailApi(APIView):
    @extend_schema(responses={200: PurchaseOutput}, summary="One purchase by our reference", operation_id="purchases_retrieve")
    def get(self, request: Request, reference: str) -> Response:
        purchase = selectors.purchase_get_for_user(user=request.user, reference=reference)
        return Response(PurchaseOutput(purchase).data)


class DataSyncApi(APIView):
    # Staff (never an API key) who manage providers: a sync rewrites costs and may suspend plans,
    # so a suspended staff member may not run it (this list replaces the default classes).
    permission_classes = [HasStaffPermission, NotSuspendedForWrites]
    staff_permission = "backoffice.provider_manage"

    class InputSerializer(serializers.Serializer):
        provider = StrictCharField(required=False, max_length=32, help_text="One provider; all routed ones if absent")

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("PlanSyncReport", {"reports": serializers.ListField(child=serializers.DictField())})},
        summary="Sync plans and costs from the providers (staff)",
    )
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data or {})
        actor = Actor.from_request(request)
        if data.get("provider"):
            from vtu.services.calls import provider_configured

            if not provider_configured(data["provider"]):
                raise ApiError(code="NOT_FOUND", detail=f"No enabled provider {data['provider']!r}.")
            reports = [catalogue.plans_sync(provider=data["provider"], actor=actor)]
        else:
            reports = catalogue.plans_sync_all(actor=actor)
        return Response({"reports": [report.as_dict() for report in reports]})
