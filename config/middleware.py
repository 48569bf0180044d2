"""Project-wide HTTP middleware: request context and body size limits."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config import request_context
from config.api.envelope import error_response

log = structlog.get_logger("http")


class RequestContextMiddleware:
    """Accept or make an X-Request-ID, bind it to every log line of the request, echo it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_context.clean_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        info = request_context.RequestInfo(
            request_id=request_id,
            ip=request_context.client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:256],
        )
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_context.set_current(info)
        # Start clean: nothing from a previous request on this thread leaks into this one.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        request._elapsed_ms = elapsed_ms  # type: ignore[attr-defined]
        if settings.LOG_REQUESTS:
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                ms=elapsed_ms,
            )
        # Not cleared here: Django writes its own "Not Found" / "Bad Request" lines after every
        # middleware has returned, and they must carry the request id too. The server closes
        # the response once it has been sent, which is when the id is unbound.
        response._resource_closers.append(structlog.contextvars.clear_contextvars)
        return response


class BodySizeLimitMiddleware:
    """Refuse an oversized body with 413 before anything reads it.

    JSON APIs get API_MAX_BODY_BYTES, gateway webhooks WEBHOOK_MAX_BODY_BYTES, and multipart
    uploads (KYC documents) DATA_UPLOAD_MAX_MEMORY_SIZE plus room for the form fields.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.limit_for(request):
            return error_response("PAYLOAD_TOO_LARGE")
        return self.get_response(request)

    @staticmethod
    def limit_for(request: HttpRequest) -> int:
        if "/webhooks/" in request.path or request.path.endswith("/webhook"):
            return settings.WEBHOOK_MAX_BODY_BYTES
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
            return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 64 * 1024
        if request.path.startswith("/" + settings.ADMIN_URL):
            return settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return settings.API_MAX_BODY_BYTES
