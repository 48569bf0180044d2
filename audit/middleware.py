"""RequestLogMiddleware: one API request log row per request under REQUEST_LOG_PATH_PREFIXES.

Placed right after RequestContextMiddleware, so it sees every answer, the 413 of the body
size guard included. The user is read after the view ran: DRF sets the authenticated user
(JWT or API key) on the Django request too, and the API-key authenticator sets
`request.api_key` there. A session user that nobody evaluated is not evaluated here (that
would cost a session read on every API call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from audit.request_log import is_logged_path, request_log_record
from config import request_context


def _user_id(request: HttpRequest) -> int | None:
    user: Any = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_logged_path(request.path):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        api_key = getattr(request, "api_key", None)
        request_log_record(
            method=request.method or "",
            path=request.path,
            status=response.status_code,
            latency_ms=round((time.perf_counter() - started) * 1000),
            user_id=_user_id(request),
            api_key_id=getattr(api_key, "pk", None),
            ip=request_context.client_ip(request),
            request_id=getattr(request, "request_id", ""),
        )
        return response
