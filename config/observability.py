"""Operators' view of the platform: GET /metrics, HTTP metrics, Celery failures, Sentry, tracing.

- `metrics_view`: Prometheus text format. Counters and histograms come from config.metrics
  (in every gunicorn and Celery process); with PROMETHEUS_MULTIPROC_DIR set, every process
  writes its samples to files there and the scrape aggregates them (prometheus-client's
  multiprocess mode), so one scrape of any web worker shows the whole fleet on that host;
  containers sharing one volume each write to their own subdirectory of
  PROMETHEUS_MULTIPROC_ROOT and the scrape reads them all (`multiprocess_files`).
  Gauges derived from the database (open purchases, the oldest one waiting for a requery,
  the last ledger check, Celery queue depth, provider float) are computed at scrape time by
  `StateCollector`, with cheap indexed queries, so they are never stale or per-process.
- Access: a `Authorization: Bearer <METRICS_TOKEN>` header, or a client address in
  METRICS_ALLOWED_IPS (default loopback only; not applied to a request that came through a
  proxy while NUM_PROXIES is 0). Anything else is 404, as if there were no such page (no hint
  for a scanner).
- `HttpMetricsMiddleware`: requests, latency and status per route *name* (never the raw path,
  which carries references and would make the label set unbounded).
- `connect_celery_signals()`: task failures and retries by task name.
- `init_error_reporting()`: Sentry when SENTRY_DSN is set, OpenTelemetry tracing when
  OTEL_EXPORTER_OTLP_ENDPOINT is set; both imported lazily, both off by default.
"""

from __future__ import annotations

import glob
import hmac
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from config import metrics, request_context
from config.logs import redact_value

log = structlog.get_logger("observability")

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "view", "status"])
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_RETRIES = Counter("celery_task_retries_total", "Celery task retries", ["task"])
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# The Celery queues (settings.CELERY_TASK_ROUTES and the default); kombu's Redis transport keeps
# one list per queue and priority step, named "<queue>" and "<queue>\x06\x16<priority>".
QUEUES = ("default", "providers", "webhooks", "callbacks", "email")
PRIORITY_STEPS = (3, 6, 9)


# --- access -------------------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    """A valid bearer token (compared in constant time), or a client address on the list."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    bearer = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if token and bearer and hmac.compare_digest(bearer.encode(), token.encode()):
        return True
    if _proxied_without_trust(request):
        return False
    return request_context.client_ip(request) in set(settings.METRICS_ALLOWED_IPS)


FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _proxied_without_trust(request: HttpRequest) -> bool:
    """A request relayed by a proxy while NUM_PROXIES is 0: REMOTE_ADDR is the proxy (often
    127.0.0.1 on the same host), not the client, so the address allow-list would let the whole
    internet in. Only the token is accepted then."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    return not proxies and any(request.META.get(header) for header in FORWARDING_HEADERS)


@csrf_exempt  # a POST meets the 405 in the envelope, not an HTML CSRF page
def metrics_view(request: HttpRequest) -> HttpResponse:
    from config.api.envelope import error_response

    if request.method != "GET":
        return error_response("METHOD_NOT_ALLOWED", headers={"Allow": "GET"})
    if not metrics_allowed(request):
        return error_response("NOT_FOUND")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def exposition() -> bytes:
    """Process (or multiprocess) samples, then the database-derived gauges."""
    files = multiprocess_files()
    if files is None:
        process_registry = REGISTRY
    else:
        process_registry = CollectorRegistry(auto_describe=False)
        process_registry.register(_FilesCollector(files))
    state_registry = CollectorRegistry(auto_describe=False)
    state_registry.register(StateCollector())
    return generate_latest(process_registry) + generate_latest(state_registry)


def multiprocess_files() -> list[str] | None:
    """The sample files of every process on this host, or None outside multiprocess mode.

    PROMETHEUS_MULTIPROC_ROOT: one subdirectory per container (`<role>-<hostname>`, made and
    emptied by docker/entrypoint.sh), because process ids repeat across containers and two
    containers writing `counter_7.db` into one directory would overwrite each other.
    PROMETHEUS_MULTIPROC_DIR alone: one directory for one host's processes (unique pids)."""
    root = os.environ.get("PROMETHEUS_MULTIPROC_ROOT")
    if root:
        return sorted(glob.glob(os.path.join(root, "*", "*.db")))
    single = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return sorted(glob.glob(os.path.join(single, "*.db"))) if single else None


class _FilesCollector(Collector):
    """prometheus-client's multiprocess merge over an explicit list of files (its own
    collector reads a single directory)."""

    def __init__(self, files: list[str]) -> None:
        self.files = files

    def collect(self) -> Iterator[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        return iter(MultiProcessCollector.merge(self.files, accumulate=True))


# --- HTTP -------------------------------------------------------------------------------------------


def route_name(request: HttpRequest) -> str:
    """The URL pattern's name ('data-purchase', 'purchase-detail'); 'admin' for the back office;
    'unmatched' for a 404 that matched no route (scanners: one label, not one per path)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    if match.namespace and match.namespace.split(":")[0] == "admin":
        return "admin"
    return (match.view_name or match.route or "unnamed")[:80]


class HttpMetricsMiddleware:
    """Count and time every request by route name, method and status. Outermost, so the time
    includes every other middleware (and the 413s and 404s they answer)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            method = request.method if request.method in METHODS else "OTHER"
            view = route_name(request)
            if view != "metrics":  # the scraper's own requests would dominate a quiet system
                HTTP_REQUESTS.labels(method=method, view=view, status=str(status)).inc()
                HTTP_SECONDS.labels(method=method, view=view).observe(time.perf_counter() - started)


# --- scrape-time gauges --------------------------------------------------------------------------


class StateCollector(Collector):
    """Gauges read from the database and Redis at scrape time. Each family is independent:
    one failing query (a table mid-migration, Redis down) drops that family and is counted
    in `metrics_collector_errors`, the rest of the scrape still answers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily("metrics_collector_errors", "Gauge families that failed in this scrape",
                                   labels=["family"])
        for name, produce in (
            ("purchases", _purchase_gauges), ("ledger_check", _ledger_check_gauges),
            ("payments", _payment_gauges), ("providers", _provider_gauges),
            ("queues", _queue_gauges), ("alerts", _alert_gauges),
        ):
            try:
                yield from produce()
            except Exception as exc:  # noqa: BLE001 - a scrape must answer with what it has
                log.warning("metrics_collector_failed", family=name, error=type(exc).__name__)
                errors.add_metric([name], 1)
        yield errors


def _now() -> float:
    return time.time()


def _purchase_gauges() -> Iterator[GaugeMetricFamily]:
    from django.apps import apps
    from django.db.models import Count, Min

    Purchase = apps.get_model("vtu", "Purchase")
    open_statuses = ("pending", "processing")
    by_status = GaugeMetricFamily("vtu_purchases_open", "Purchases not yet final", labels=["status"])
    counts = dict(
        Purchase.objects.filter(status__in=open_statuses).values_list("status").annotate(n=Count("pk")).values_list(
            "status", "n"
        )
    )
    for status in open_statuses:
        by_status.add_metric([status], counts.get(status, 0))
    yield by_status
    oldest = Purchase.objects.filter(status__in=open_statuses).aggregate(
        created=Min("created_at"), due=Min("next_check_at")
    )
    waiting = GaugeMetricFamily(
        "vtu_purchase_oldest_open_age_seconds",
        "Age of the oldest purchase still pending or processing (waiting for its worker or a requery); 0 when none",
    )
    waiting.add_metric([], max(_now() - oldest["created"].timestamp(), 0) if oldest["created"] else 0)
    yield waiting
    overdue = GaugeMetricFamily(
        "vtu_requery_overdue_seconds",
        "How long the most overdue open purchase has been due for its next check (the sweeper is behind); 0 when none",
    )
    overdue.add_metric([], max(_now() - oldest["due"].timestamp(), 0) if oldest["due"] else 0)
    yield overdue
    review = GaugeMetricFamily("vtu_purchases_needs_review", "Open purchases past their SLA, waiting for staff")
    review.add_metric([], Purchase.objects.filter(status__in=open_statuses, needs_review_at__isnull=False).count())
    yield review


def _ledger_check_gauges() -> Iterator[GaugeMetricFamily]:
    from django.apps import apps

    LedgerCheck = apps.get_model("wallets", "LedgerCheck")
    last = LedgerCheck.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()
    ok = GaugeMetricFamily("wallets_ledger_check_ok", "1 when the last ledger check found nothing, 0 otherwise "
                           "(absent until a check has run)")
    findings = GaugeMetricFamily("wallets_ledger_check_findings", "Findings of the last ledger check")
    finished = GaugeMetricFamily("wallets_ledger_check_last_run_timestamp_seconds",
                                 "When the last ledger check finished (Unix time)")
    if last is not None:
        ok.add_metric([], 1 if last.ok else 0)
        findings.add_metric([], last.finding_count)
        finished.add_metric([], last.finished_at.timestamp())
    yield ok
    yield findings
    yield finished


def _payment_gauges() -> Iterator[GaugeMetricFamily]:
    from django.apps import apps

    WebhookEvent = apps.get_model("payments", "WebhookEvent")
    Deposit = apps.get_model("payments", "Deposit")
    unprocessed = GaugeMetricFamily("payments_webhook_events_unprocessed",
                                    "Authenticated gateway events stored but not yet settled")
    unprocessed.add_metric([], WebhookEvent.objects.filter(processed_at__isnull=True).count())
    yield unprocessed
    review = GaugeMetricFamily("payments_deposits_needs_review", "Deposits waiting for staff (under/over-payment)")
    review.add_metric([], Deposit.objects.filter(status="needs_review").count())
    yield review


def _provider_gauges() -> Iterator[GaugeMetricFamily]:
    from django.apps import apps

    ProviderState = apps.get_model("vtu", "ProviderState")
    balance = GaugeMetricFamily("vtu_provider_balance_kobo", "Provider float at its last balance check",
                                labels=["provider"])
    circuit = GaugeMetricFamily("vtu_provider_circuit_open", "1 while the provider's circuit breaker is not closed",
                                labels=["provider"])
    health = GaugeMetricFamily("vtu_provider_health_score", "Routing health score", labels=["provider"])
    for state in ProviderState.objects.all():
        if state.last_balance_kobo is not None:
            balance.add_metric([state.provider], state.last_balance_kobo)
        circuit.add_metric([state.provider], 0 if state.circuit == "closed" else 1)
        if state.health_score is not None:
            health.add_metric([state.provider], state.health_score)
    yield balance
    yield circuit
    yield health


def queue_lengths() -> dict[str, int] | None:
    """Messages waiting per Celery queue (Redis LLEN over the queue's priority lists), or None
    on a broker without queues to count (the filesystem broker of `make run`, memory in tests)."""
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    prefix = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get("global_keyprefix", "")
    client = redis.Redis.from_url(broker, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(f"{prefix}{queue}")
            for step in PRIORITY_STEPS:
                pipe.llen(f"{prefix}{queue}\x06\x16{step}")
        values = pipe.execute()
    finally:
        client.close()
    per_queue = len(PRIORITY_STEPS) + 1
    return {queue: sum(values[i * per_queue:(i + 1) * per_queue]) for i, queue in enumerate(QUEUES)}


def _queue_gauges() -> Iterator[GaugeMetricFamily]:
    depth = GaugeMetricFamily("celery_queue_length", "Messages waiting in a Celery queue (Redis broker only)",
                              labels=["queue"])
    for queue, length in (queue_lengths() or {}).items():
        depth.add_metric([queue], length)
    yield depth


def _alert_gauges() -> Iterator[GaugeMetricFamily]:
    from django.db.models import Count

    from config.models import Alert

    open_alerts = GaugeMetricFamily("ops_alerts_open", "Open operator alerts", labels=["kind", "severity"])
    for kind, severity, count in (
        Alert.objects.filter(resolved_at__isnull=True).values_list("kind", "severity").annotate(n=Count("pk"))
    ):
        open_alerts.add_metric([kind.split(":")[0][:40], severity], count)
    yield open_alerts


# --- Celery ----------------------------------------------------------------------------------------


def connect_celery_signals() -> None:
    """Count task failures and retries by task name (every worker process; aggregated by the
    multiprocess mode like everything else)."""
    from celery import signals

    signals.task_failure.connect(_task_failed, weak=False, dispatch_uid="observability.task_failure")
    signals.task_retry.connect(_task_retried, weak=False, dispatch_uid="observability.task_retry")


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")[:120]


def _task_failed(sender: Any = None, **_: Any) -> None:
    metrics.TASK_FAILURES.labels(task=_task_name(sender)).inc()


def _task_retried(sender: Any = None, **_: Any) -> None:
    TASK_RETRIES.labels(task=_task_name(sender)).inc()


# --- error reporting and tracing (optional, off by default) ---------------------------------------


def init_error_reporting() -> None:
    """Sentry when SENTRY_DSN is set; OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    Both packages are imported only then, so a deployment without them pays nothing."""
    if settings.SENTRY_DSN:
        _init_sentry()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        _init_tracing()


def _init_sentry() -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,  # no e-mails, IPs or user ids
        # Request bodies carry PINs, passwords, BVNs and NINs, and a frame's local variables
        # hold the same body parsed or raw (json.loads's `s`): neither is ever sent.
        max_request_body_size="never",
        include_local_variables=False,
        # Sentry's own scrubber knows "password" and "token" but not pin/bvn/nin/otp/id_number:
        # every event and breadcrumb also goes through our redaction (config/logs.py).
        before_send=scrub_event,
        before_breadcrumb=scrub_event,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    log.info("sentry_enabled")


def scrub_event(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    """Blank sensitive keys and mask token-shaped strings anywhere in a Sentry event or
    breadcrumb (headers, query string, messages, extra data, exception values)."""
    return redact_value(event, max_depth=30)


def _init_tracing() -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "vtu")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint and headers from OTEL_* env
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    log.info("tracing_enabled")
