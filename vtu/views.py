"""Provider callbacks (VTpass transaction updates, ClubKonnect CallBackURL): plain views on
the raw request, no DRF, no auth, no throttle (DESIGN §4 for inbound webhooks).

Neither vendor signs its callbacks, so a callback is only a hint: it names our request id,
and we requery that attempt from the provider before any money moves (R6). Anyone can post
one, so it can at most make us ask the provider a question (at most once per purchase per
30 s); it can never settle a purchase.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vtu.services.calls import provider_config
from vtu.services.staff import purchase_callback_received

# What each vendor expects back so it stops retrying (VTpass: {"response": "success"}).
ACKNOWLEDGEMENTS = {"vtpass": {"response": "success"}}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_callback(request: HttpRequest, provider: str) -> HttpResponse:
    from vtu.providers import registry

    if not registry.is_registered(provider) or not provider_config(provider):
        return JsonResponse({"detail": "Unknown provider.", "error_code": "NOT_FOUND", "errors": {}}, status=404)
    if request.method == "GET":
        payload: object = request.GET.dict()
    else:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            payload = request.POST.dict()  # form-encoded variants
            if not payload:
                return JsonResponse(
                    {"detail": "The body is not valid JSON.", "error_code": "MALFORMED_JSON", "errors": {}}, status=400
                )
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "Expected an object.", "error_code": "VALIDATION_ERROR", "errors": {}}, status=400)
    purchase_callback_received(provider=provider, payload=payload)
    return JsonResponse(ACKNOWLEDGEMENTS.get(provider, {"status": "received"}))
