"""Funding API under /api/v1/wallet/. Thin: parse, call one service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from config.api.fields import KoboField, StrictCharField
from config.api.idempotency import idempotent
from config.api.pagination import PageNumberPagination
from config.api.parsing import parse
from payments import selectors, virtual_accounts
from payments.gateways.registry import GATEWAY_NAMES
from payments.models import Deposit, VirtualAccount, VirtualAccountRequest
from payments.services import deposit_start


class DepositOutput(serializers.ModelSerializer):
    amount = serializers.IntegerField(source="amount_kobo")
    paid = serializers.IntegerField(source="paid_kobo", allow_null=True)
    fee = serializers.IntegerField(source="fee_kobo")
    credited = serializers.IntegerField(source="credited_kobo", allow_null=True)
    # A string, not a "uri": it is empty for deposits with no checkout page (bank transfers).
    authorization_url = serializers.CharField(read_only=True)

    class Meta:
        model = Deposit
        fields = [
            "reference", "gateway", "source", "amount", "paid", "fee", "credited", "currency", "status",
            "authorization_url", "created_at", "succeeded_at",
        ]
        read_only_fields = fields


class FundApi(APIView):
    api_key_scope = "deposit"

    class InputSerializer(serializers.Serializer):
        amount = KoboField(help_text="Kobo to pay at the gateway (JSON integer).")
        gateway = StrictCharField(max_length=20)
        callback_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)

    class OutputSerializer(serializers.Serializer):
        reference = serializers.CharField()
        authorization_url = serializers.URLField()
        gateway = serializers.CharField()
        amount = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, summary="Start funding the wallet",
        description=f"Gateways: {', '.join(GATEWAY_NAMES)} (only the enabled ones answer). Open "
        "`authorization_url` to pay; the wallet is credited when the gateway confirms.",
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"amount": "INVALID_AMOUNT"})
        deposit = deposit_start(
            user=request.user, gateway=data["gateway"], amount_kobo=data["amount"], callback_url=data["callback_url"]
        )
        return Response(
            {"reference": deposit.reference, "authorization_url": deposit.authorization_url,
             "gateway": deposit.gateway, "amount": deposit.amount_kobo, "status": deposit.status},
            status=status.HTTP_201_CREATED,
        )


class FundStatusApi(APIView):
    @extend_schema(responses={200: DepositOutput}, summary="A deposit's status (asks the gateway while pending)")
    def get(self, request: Request, reference: str) -> Response:
        deposit = selectors.deposit_get_for_user(user_id=request.user.pk, reference=reference)
        deposit = selectors.deposit_refresh(deposit=deposit)
        return Response(DepositOutput(deposit).data)


class VirtualAccountOutput(serializers.ModelSerializer):
    class Meta:
        model = VirtualAccount
        fields = ["gateway", "bank_name", "bank_code", "account_number", "account_name", "created_at"]
        read_only_fields = fields


class VirtualAccountsApi(APIView):
    api_key_scope = "deposit"

    class InputSerializer(serializers.Serializer):
        gateway = StrictCharField(max_length=20)
        # A plain string (checked by the service): "bvn" or "nin".
        id_type = StrictCharField(required=False, allow_blank=True, default="", max_length=3,
                                  help_text="bvn or nin")
        id_number = StrictCharField(required=False, allow_blank=True, default="", max_length=11, min_length=11,
                                    trim_whitespace=True, write_only=True)

    class RequestOutput(serializers.Serializer):
        gateway = serializers.CharField()
        status = serializers.CharField(help_text="pending | assigned | failed")
        accounts = VirtualAccountOutput(many=True)

    @extend_schema(
        responses={200: inline_serializer("VirtualAccountPage", {  # the page envelope the view answers
            "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True), "results": VirtualAccountOutput(many=True),
        })},
        summary="My virtual bank accounts (page-number pagination: ?page=, ?page_size= up to 100)",
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        accounts = virtual_accounts.virtual_accounts_for_user(user_id=request.user.pk)
        page = paginator.paginate_queryset(accounts, request, view=self)
        return paginator.get_paginated_response(VirtualAccountOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: RequestOutput, 202: RequestOutput},
        summary="Request a virtual bank account (Paystack, Monnify, Flutterwave)",
        description="Monnify needs a BVN or NIN, Flutterwave a BVN (11 digits); it is passed to the gateway "
        "and never stored. Paystack assigns asynchronously: 202 with status `pending`.",
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"id_number": "INVALID_ID_NUMBER"})
        va_request = virtual_accounts.virtual_account_request(
            user=request.user, gateway=data["gateway"], id_type=data["id_type"], id_number=data["id_number"],
            actor=Actor.from_request(request),
        )
        accounts = virtual_accounts.virtual_accounts_for_user(user_id=request.user.pk).filter(gateway=data["gateway"])
        assigned = va_request.status == VirtualAccountRequest.Status.ASSIGNED
        return Response(
            {"gateway": data["gateway"], "status": va_request.status,
             "accounts": VirtualAccountOutput(accounts, many=True).data},
            status=status.HTTP_201_CREATED if assigned else status.HTTP_202_ACCEPTED,
        )
