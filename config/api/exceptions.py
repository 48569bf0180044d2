"""DRF exception handler: every error leaves in the envelope with a registered code.

Unhandled exceptions answer 500 INTERNAL_ERROR with an `error_id` that is also in the log
line (with the traceback, secrets masked), so support can find it; no traceback reaches a
client.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from config.errors import ERROR_CODES, ApiError, status_for

log = structlog.get_logger("api.errors")

_DRF_CODES: list[tuple[type[Exception], str]] = [
    (InvalidToken, "TOKEN_INVALID"),
    (TokenError, "TOKEN_INVALID"),
    (drf.ParseError, "MALFORMED_JSON"),
    (drf.NotAuthenticated, "NOT_AUTHENTICATED"),
    (drf.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (drf.PermissionDenied, "PERMISSION_DENIED"),
    (drf.NotFound, "NOT_FOUND"),
    (drf.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.Throttled, "THROTTLED"),
    (Http404, "NOT_FOUND"),
    (DjangoPermissionDenied, "PERMISSION_DENIED"),
    (RequestDataTooBig, "PAYLOAD_TOO_LARGE"),
]


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def _registered_code(exc: drf.APIException) -> str | None:
    """A permission or auth class may raise with `code=<REGISTERED_CODE>` to be specific."""
    try:
        codes = exc.get_codes()
    except Exception:  # noqa: BLE001 - odd detail shapes
        return None
    if isinstance(codes, str) and codes in ERROR_CODES:
        return codes
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApiError):
        return Response(
            {"detail": exc.detail, "error_code": exc.code, "errors": exc.errors},
            status=exc.status_code,
            headers=exc.headers or None,
        )
    if isinstance(exc, drf.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        code = _registered_code(exc) or "VALIDATION_ERROR"
        detail = _first_message(errors) if code != "VALIDATION_ERROR" else "Invalid input."
        return Response({"detail": detail, "error_code": code, "errors": errors}, status=status_for(code))
    for exc_type, default_code in _DRF_CODES:
        if isinstance(exc, exc_type):
            code = default_code
            if isinstance(exc, drf.APIException):
                code = _registered_code(exc) or default_code
            detail = getattr(exc, "detail", None)
            message = str(detail) if detail and not isinstance(detail, (dict, list)) else ERROR_CODES[code][1]
            headers: dict[str, str] = {}
            if isinstance(exc, drf.Throttled) and exc.wait is not None:
                headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
            if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
                headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return Response(
                {"detail": message, "error_code": code, "errors": {}},
                status=status_for(code),
                headers=headers or None,
            )
    return unhandled_response(exc)


def unhandled_response(exc: BaseException) -> Response:
    error_id = uuid.uuid4().hex
    log.error("unhandled_error", error_id=error_id, error_type=type(exc).__name__, exc_info=exc)
    return Response(
        {
            "detail": ERROR_CODES["INTERNAL_ERROR"][1],
            "error_code": "INTERNAL_ERROR",
            "errors": {},
            "error_id": error_id,
        },
        status=500,
    )
