"""URLconf for plumbing tests: the real routes plus probe views."""

from __future__ import annotations

import threading

from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.fields import KoboField
from config.api.idempotency import idempotent
from config.api.parsing import parse
from config.errors import ApiError

# Tests set these to hold a request inside the handler (to observe 409 in flight).
handler_entered = threading.Event()
handler_release = threading.Event()
calls: list[dict] = []


class EchoApi(APIView):
    api_key_scope = "transfer"

    class InputSerializer(serializers.Serializer):
        amount = KoboField()
        block = serializers.BooleanField(required=False, default=False)
        fail = serializers.ChoiceField(choices=["", "funds", "crash"], required=False, default="")

    @idempotent()
    def post(self, request):
        data = parse(self.InputSerializer, request.data, field_codes={"amount": "INVALID_AMOUNT"})
        calls.append(data)
        if data["block"]:
            handler_entered.set()
            handler_release.wait(timeout=10)
        if data["fail"] == "funds":
            raise ApiError(code="INSUFFICIENT_FUNDS")
        if data["fail"] == "crash":
            raise RuntimeError("boom sk_live_abcdefghijklmnop")
        return Response({"amount": data["amount"], "call": len(calls)}, status=201)


class CrashApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError("unexpected failure with secret sk_test_canarycanary123")


urlpatterns = [
    path("api/v1/test/echo", EchoApi.as_view()),
    path("api/v1/test/crash", CrashApi.as_view()),
    path("", include("config.urls")),
]

handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
