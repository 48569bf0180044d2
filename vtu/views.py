"""Provider callbacks (VTpass transaction updates, ClubKonnect CallBackURL): plain views on
the raw request, no DRF, no auth, no throttle (DESIGN §4 for inbound webhooks).

Neither vendor signs its callbacks, so a callback is only a hint: it names our request id,
and we requery that attempt from the provider before any money moves (R6). Anyone can post
one, so it can at most make us ask the provider a question (at most once per purchase per
30 s); it can never settle a purchase. Every callback for a known provider is kept in the
ProviderCallback inbox (capped), malformed and unmatched ones included, for disputes.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from config import request_context
from config.api.envelope import error_response
from vtu.services.callbacks import CallbackEvidence, provider_callback_receive
from vtu.services.calls import provider_config

# What each vendor expects back so it stops retrying (VTpass: {"response": "success"}).
ACKNOWLEDGEMENTS = {"vtpass": {"response": "success"}}


@csrf_exempt
@require_http_methods(["GET", "POST"])
@transaction.non_atomic_requests
def provider_callback(request: HttpRequest, provider: str) -> HttpResponse:
    from vtu.providers import registry

    if not registry.is_registered(provider) or not provider_config(provider):
        return JsonResponse({"detail": "Unknown provider.", "error_code": "NOT_FOUND", "errors": {}}, status=404)
    raw = request.META.get("QUERY_STRING", "").encode() if request.method == "GET" else request.body
    if len(raw) > settings.WEBHOOK_MAX_BODY_BYTES:  # a chunked body the middleware could not size
        return error_response("PAYLOAD_TOO_LARGE")
    payload = _payload(request)
    evidence = CallbackEvidence(
        method=request.method or "", raw=raw.decode("utf-8", "replace"), size=len(raw),
        headers=dict(request.headers), remote_ip=request_context.client_ip(request),
    )
    provider_callback_receive(provider=provider, evidence=evidence, payload=payload)
    if payload is None:
        return JsonResponse({"detail": "The body is not a JSON object.", "error_code": "MALFORMED_JSON", "errors": {}},
                            status=400)
    return JsonResponse(ACKNOWLEDGEMENTS.get(provider, {"status": "received"}))


def _payload(request: HttpRequest) -> dict[str, Any] | None:
    """The callback as an object: a GET's query parameters, a JSON body, or a form body."""
    if request.method == "GET":
        return request.GET.dict()
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        payload = request.POST.dict() or None  # form-encoded variants
    return payload if isinstance(payload, dict) else None
