"""Health probes and the project-wide 404/500/CSRF-failure handlers: all in the envelope,
except for the HTML pages (admin, e-mail link pages), which keep Django's HTML answers."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.api.envelope import error_response

_migrations_ok_until = 0.0
PROBE_METHODS = ("GET", "HEAD")
SKIPPED = "skipped"  # a readiness check that does not apply (not configured, or its premise failed)


def probe(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A probe answers GET and HEAD (load balancers use either); any other method gets 405 in
    the envelope. No CSRF check: it changes nothing, and a POST must meet the 405, not an HTML
    CSRF page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if request.method not in PROBE_METHODS:
            return error_response("METHOD_NOT_ALLOWED", headers={"Allow": ", ".join(PROBE_METHODS)})
        return view(request)

    return csrf_exempt(wrapped)


@probe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"database: {type(exc).__name__}"
    return None


def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return SKIPPED  # the embedded default (make run) has no Redis to check
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"redis: {type(exc).__name__}"
    return None


def _check_migrations() -> str | None:
    # Loading the migration graph costs tens of ms; a clean answer is trusted for a minute.
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return None
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return f"migrations: {type(exc).__name__}"
    if plan:
        return f"migrations: {len(plan)} unapplied"
    _migrations_ok_until = time.monotonic() + 60
    return None


@probe
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database, Redis (when configured), no unapplied migrations."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    checks["migrations"] = _check_migrations() if checks["database"] is None else SKIPPED
    failed = {name: problem for name, problem in checks.items() if problem not in (None, SKIPPED)}
    if failed:
        return error_response(
            "SERVICE_UNAVAILABLE", "Not ready: " + "; ".join(failed.values()), errors=failed
        )
    return JsonResponse({"status": "ready", "checks": {name: problem or "ok" for name, problem in checks.items()}})


def _wants_html(request: HttpRequest) -> bool:
    return request.path.startswith("/" + settings.ADMIN_URL)


def _is_html_page(request: HttpRequest) -> bool:
    """The server-rendered pages (admin, e-mail link pages, sandbox checkout): everything
    outside /api/ and the probes."""
    path = request.path
    return not (path.startswith("/api/") or path.lstrip("/") in ("healthz", "readyz", "metrics"))


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Every path under /api/ that no route matched: the envelope's 404 even with DEBUG on
    (Django would answer its HTML debug page there)."""
    return error_response("NOT_FOUND")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the envelope for API and probe paths, Django's page for forms."""
    if _is_html_page(request):
        from django.views.csrf import csrf_failure as html_csrf_failure

        return html_csrf_failure(request, reason=reason)
    return error_response("PERMISSION_DENIED", "CSRF verification failed.")


def handler404(request: HttpRequest, exception: Exception | None = None):
    if _wants_html(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return error_response("NOT_FOUND")


def handler500(request: HttpRequest):
    import sys
    import uuid

    import structlog

    error_id = uuid.uuid4().hex
    structlog.get_logger("api.errors").error("unhandled_error", error_id=error_id, exc_info=sys.exc_info())
    return error_response("INTERNAL_ERROR", error_id=error_id)
