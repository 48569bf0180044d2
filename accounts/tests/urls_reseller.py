"""URLconf for the API-key tests: the real routes plus probe views (a money POST that keys
with `purchase` may call, and a staff endpoint keys may never reach)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency import idempotent
from config.api.permissions import IsStaff

calls: list[dict] = []


class PurchaseProbeApi(APIView):
    api_key_scope = "purchase"

    @idempotent()
    def post(self, request):
        calls.append({"user": request.user.pk, "api_key": getattr(request, "api_key", None)})
        return Response({"ok": True, "via_key": getattr(request, "api_key", None) is not None}, status=201)


class StaffProbeApi(APIView):
    permission_classes = [IsStaff]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/test/purchase", PurchaseProbeApi.as_view()),
    path("api/v1/test/staff", StaffProbeApi.as_view()),
    path("", include("config.urls")),
]

handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
