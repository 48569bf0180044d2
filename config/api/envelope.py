"""The one error envelope: {"detail": "...", "error_code": "...", "errors": {...}}."""

from __future__ import annotations

import json
from typing import Any

from django.http import JsonResponse

from config.errors import ERROR_CODES, status_for


def envelope(code: str, detail: str | None = None, errors: dict[str, Any] | None = None, **extra: Any) -> dict:
    status_for(code)  # refuse an unregistered code
    body: dict[str, Any] = {
        "detail": detail or ERROR_CODES[code][1],
        "error_code": code,
        "errors": errors or {},
    }
    body.update(extra)
    return body


def error_response(
    code: str,
    detail: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    """A plain Django response in the envelope, for code outside DRF (middleware, webhooks,
    404/500 handlers)."""
    response = JsonResponse(envelope(code, detail, errors, **extra), status=status_for(code))
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_envelope(content: bytes) -> bool:
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and {"detail", "error_code", "errors"} <= set(body)
