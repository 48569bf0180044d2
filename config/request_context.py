"""Per-request context (request id, client IP, user agent) kept in contextvars.

Set by `RequestContextMiddleware` for HTTP and by the Celery prerun hook for tasks, so audit
records and log lines written deep inside services know which request caused them without
the request object being passed down.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


@dataclass(frozen=True)
class RequestInfo:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestInfo] = ContextVar("request_info", default=RequestInfo())  # noqa: B039 - frozen


def current() -> RequestInfo:
    return _current.get()


def set_current(info: RequestInfo) -> object:
    return _current.set(info)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(candidate: str | None) -> str:
    """Accept a caller's X-Request-ID only if it is short and harmless; else make one."""
    if candidate and _REQUEST_ID_RE.match(candidate):
        return candidate
    return new_request_id()


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP: REMOTE_ADDR, or the NUM_PROXIES-th address from the right of
    X-Forwarded-For when we sit behind that many trusted proxies (never the leftmost,
    which the client controls)."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")
