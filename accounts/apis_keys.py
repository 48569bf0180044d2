"""API-key endpoints under /api/v1/keys. JWT only for writes: a key cannot mint, revoke or
roll over keys (no `api_key_scope`, so APIKeyScope refuses key writes); a key with `read`
may list them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_keys
from accounts.models import APIKey
from audit.services import Actor
from config.api.fields import StrictCharField
from config.api.pagination import PageNumberPagination
from config.api.parsing import parse


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "30" and 30.0 are refused (see config/api/fields.py for why)."""

    default_error_messages = {"not_an_integer": "Must be a JSON integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class APIKeyOutput(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    rolled_over_to = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)  # null until rolled over
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=api_keys.SCOPES))
    allowed_ips = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = APIKey
        fields = [
            "id", "name", "prefix", "scopes", "allowed_ips", "status", "created_at", "expires_at",
            "last_used_at", "last_used_ip", "revoked_at", "rolled_over_to",
        ]
        read_only_fields = fields

    def get_status(self, api_key: APIKey) -> str:
        return api_key.status


class IssuedKeyOutput(APIKeyOutput):
    key = serializers.CharField(help_text="The whole key. Shown once: store it now; we keep only its hash.")

    class Meta(APIKeyOutput.Meta):
        fields = ["key", *APIKeyOutput.Meta.fields]
        read_only_fields = fields


def _issued(issued: api_keys.IssuedKey) -> dict[str, Any]:
    return {"key": issued.plaintext, **APIKeyOutput(issued.api_key).data}


class KeysApi(APIView):
    """GET lists the caller's keys (any status); POST issues one."""

    class InputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=64)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=api_keys.SCOPES), allow_empty=False, max_length=len(api_keys.SCOPES)
        )
        expires_in = StrictIntegerField(
            required=False, min_value=1, max_value=api_keys.MAX_EXPIRY_DAYS, help_text="Days; default 365."
        )
        allowed_ips = serializers.ListField(
            child=StrictCharField(max_length=64), required=False, max_length=api_keys.MAX_ALLOWED_IPS,
            help_text="IP addresses or CIDR ranges the key may be used from; empty or absent: any.",
        )

    @extend_schema(
        responses={200: inline_serializer("APIKeyPage", {  # the page envelope the view really answers
            "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True), "results": APIKeyOutput(many=True),
        })},
        summary="List your API keys (never the secret)",
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(api_keys.api_key_list_for_user(user=request.user), request, view=self)
        return paginator.get_paginated_response(APIKeyOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: IssuedKeyOutput}, summary="Create an API key (shown once)")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        issued = api_keys.api_key_create(
            user=request.user, name=data["name"], scopes=data["scopes"], expires_in_days=data.get("expires_in"),
            allowed_ips=data.get("allowed_ips"), actor=Actor.from_request(request),
        )
        return Response(_issued(issued), status=status.HTTP_201_CREATED)


class KeyRevokeApi(APIView):
    allow_when_suspended = True  # taking power away is always allowed (a leaked key on a suspended account)
    @extend_schema(request=None, responses={200: APIKeyOutput}, summary="Revoke an API key at once")
    def post(self, request: Request, key_id: int) -> Response:
        api_key = api_keys.api_key_revoke(user=request.user, key_id=key_id, actor=Actor.from_request(request))
        return Response(APIKeyOutput(api_key).data)


class KeyRolloverApi(APIView):
    class InputSerializer(serializers.Serializer):
        key_id = StrictIntegerField(min_value=1)
        name = StrictCharField(max_length=64, required=False)
        expires_in = StrictIntegerField(required=False, min_value=1, max_value=api_keys.MAX_EXPIRY_DAYS)

    @extend_schema(
        request=InputSerializer,
        responses={201: IssuedKeyOutput},
        summary="Roll a key over: its scopes and IP allow-list onto a new key (an active key is revoked)",
    )
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        issued = api_keys.api_key_rollover(
            user=request.user, key_id=data["key_id"], name=data.get("name"),
            expires_in_days=data.get("expires_in"), actor=Actor.from_request(request),
        )
        return Response(_issued(issued), status=status.HTTP_201_CREATED)
