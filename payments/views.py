"""Inbound gateway webhooks: plain Django views on the raw body (no DRF parsing, no throttle,
no session, no CSRF). BodySizeLimitMiddleware already refuses an oversized body by its
Content-Length; the check here also covers a body sent without one (chunked)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config import request_context
from config.api.envelope import error_response
from payments.gateways.registry import receives_webhooks
from payments.webhooks import webhook_receive


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def gateway_webhook(request: HttpRequest, gateway: str) -> HttpResponse:
    if not receives_webhooks(gateway):
        # An unknown gateway, the sandbox when it is off, a real one with no webhook secret:
        # 404 before anything is stored (no orphan alerts from posts nobody can sign for us).
        return error_response("UNKNOWN_GATEWAY")
    body = request.body  # the raw bytes, read first: signatures cover exactly these
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return error_response("PAYLOAD_TOO_LARGE")
    receipt = webhook_receive(
        gateway=gateway, body=body, headers=dict(request.headers), query=request.GET.dict(),
        remote_ip=request_context.client_ip(request),
    )
    if receipt.error_code:
        return error_response(receipt.error_code)
    return JsonResponse({"received": True, "verdict": receipt.verdict})


@csrf_exempt
def paystack_webhook(request: HttpRequest) -> HttpResponse:
    """The seed's /api/v1/wallet/paystack/webhook: the same view for Paystack."""
    return gateway_webhook(request, gateway="paystack")
