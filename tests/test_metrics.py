"""GET /metrics: every figure the operator is promised moves when its action happens.

Each test reads the scrape before and after one real action (an HTTP request, a purchase, a
provider error, a deposit, a rejected webhook, a journal, a failed task, a callback attempt,
a ledger check, a queued Celery message) and asserts that the matching series moved. Access:
loopback by default, a bearer token from anywhere, nothing else (404).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import shared_task
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.tests.factories import PIN
from accounts.tests.reseller_fixtures import callback_certs, clock, receiver  # noqa: F401 - fixtures
from conftest import authenticate
from vtu.tests.conftest import MTN_NUMBER, PLAN, _no_catalogue_cache, buyer, catalogue, world  # noqa: F401
from wallets.tests.factories import fund_wallet

pytestmark = pytest.mark.django_db


def scrape(client=None, **headers) -> dict[tuple[str, tuple], float]:
    client = client or APIClient()
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str, **labels) -> float:
    """Sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and wanted <= set(lbl))


# --- access ---------------------------------------------------------------------------------------


def test_metrics_answer_loopback_and_a_bearer_token_only(settings):
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    client = APIClient()
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    outsider = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert outsider.status_code == 404 and outsider.json()["error_code"] == "NOT_FOUND"
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 404
    right = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789")
    assert right.status_code == 200 and b"http_requests_total" in right.content
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
def test_a_same_host_proxy_does_not_make_everyone_loopback(settings, header):
    """nginx on the same host with NUM_PROXIES=0: every request arrives from 127.0.0.1 with a
    forwarding header. The loopback allow-list must not apply; the token still does."""
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    forwarded = {"HTTP_FORWARDED": "for=203.0.113.9"}.get(header, "203.0.113.9")
    client = APIClient()
    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: forwarded})
    assert proxied.status_code == 404 and proxied.json()["error_code"] == "NOT_FOUND"
    with_token = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789",
                            **{header: forwarded})
    assert with_token.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # a local scraper, no proxy


def test_a_trusted_proxy_count_uses_the_forwarded_client_address(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    spoofed = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.5, 203.0.113.9")
    assert spoofed.status_code == 404  # the client wrote the leftmost hop itself


def test_no_token_configured_means_no_token_accepted(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    response = APIClient().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


# --- HTTP ------------------------------------------------------------------------------------------


def test_http_requests_are_counted_by_route_name_not_path(api_client):
    before = scrape()
    assert api_client.get("/healthz").status_code == 200
    assert api_client.get("/api/v1/purchases/PDOESNOTEXIST").status_code == 401
    assert api_client.get("/no/such/page/12345").status_code == 404
    after = scrape()
    assert value(after, "http_requests_total", method="GET", view="healthz", status="200") == \
        value(before, "http_requests_total", method="GET", view="healthz", status="200") + 1
    assert value(after, "http_requests_total", method="GET", view="purchase-detail", status="401") == \
        value(before, "http_requests_total", method="GET", view="purchase-detail", status="401") + 1
    assert value(after, "http_requests_total", method="GET", view="unmatched", status="404") == \
        value(before, "http_requests_total", method="GET", view="unmatched", status="404") + 1
    assert value(after, "http_request_duration_seconds_count", method="GET", view="healthz") == \
        value(before, "http_request_duration_seconds_count", method="GET", view="healthz") + 1
    assert not any("PDOESNOTEXIST" in str(labels) or "12345" in str(labels) for _, labels in after)


# --- purchases and providers ------------------------------------------------------------------------


def test_purchases_and_provider_calls_move_their_series(buyer, world):  # noqa: F811
    client = authenticate(APIClient(), buyer)
    before = scrape()
    ok = client.post("/api/v1/data/purchase", {"plan_code": PLAN, "phone_number": MTN_NUMBER, "pin": PIN}, format="json")
    assert ok.status_code == 202, ok.content
    world.script("alpha", "lost")  # the provider's answer is lost: unknown, an error series
    lost = client.post(
        "/api/v1/data/purchase",
        {"plan_code": PLAN, "phone_number": MTN_NUMBER, "pin": PIN, "confirm_duplicate": True}, format="json",
    )
    assert lost.status_code == 202, lost.content
    after = scrape()
    labels = {"network": "MTN", "product": "data"}
    assert total(after, "vtu_purchases_total", status="pending", **labels) == \
        total(before, "vtu_purchases_total", status="pending", **labels) + 2
    assert value(after, "vtu_purchases_total", status="successful", provider="alpha", **labels) == \
        value(before, "vtu_purchases_total", status="successful", provider="alpha", **labels) + 1
    assert total(after, "vtu_provider_call_seconds_count", provider="alpha", operation="buy") == \
        total(before, "vtu_provider_call_seconds_count", provider="alpha", operation="buy") + 2
    assert value(after, "vtu_provider_errors_total", provider="alpha", kind="timeout") == \
        value(before, "vtu_provider_errors_total", provider="alpha", kind="timeout") + 1
    # The unknown one is open, waiting for a requery: its age and the open count show it.
    assert value(after, "vtu_purchases_open", status="processing") == 1
    assert value(after, "wallets_journals_total", kind="purchase") == value(before, "wallets_journals_total", kind="purchase") + 1


def test_oldest_open_purchase_age_and_overdue_requery(buyer, world):  # noqa: F811
    from vtu.models import Purchase

    world.script("alpha", "lost")
    client = authenticate(APIClient(), buyer)
    response = client.post("/api/v1/data/purchase", {"plan_code": PLAN, "phone_number": MTN_NUMBER, "pin": PIN},
                           format="json")
    assert response.status_code == 202
    assert value(scrape(), "vtu_purchase_oldest_open_age_seconds") < 60
    Purchase.objects.update(created_at=timezone.now() - timedelta(hours=2), next_check_at=timezone.now() - timedelta(minutes=10),
                            needs_review_at=timezone.now())
    after = scrape()
    assert 7190 < value(after, "vtu_purchase_oldest_open_age_seconds") < 7300
    assert 590 < value(after, "vtu_requery_overdue_seconds") < 700
    assert value(after, "vtu_purchases_needs_review") == 1


# --- money in -------------------------------------------------------------------------------------------


def test_deposits_webhook_rejections_and_journals(user_client, user, settings):
    import json

    import responses

    from payments.tests.helpers import BASE_URLS, body_of, fixture, funding_event, gateway_settings, sign

    settings.PAYMENT_GATEWAYS = gateway_settings()
    before = scrape()
    with responses.RequestsMock() as http:
        http.add_callback(
            responses.POST, f"{BASE_URLS['paystack']}/transaction/initialize",
            callback=lambda request: (200, {}, json.dumps(
                fixture("paystack", "initialize", REF=json.loads(request.body)["reference"])
            )),
        )
        started = user_client.post("/api/v1/wallet/fund", {"amount": 500_000, "gateway": "paystack"}, format="json")
    assert started.status_code in (200, 201), started.content
    payload, _ = funding_event("paystack", started.json()["reference"])
    body = body_of(payload)
    forged = APIClient().post("/api/v1/payments/webhooks/paystack", data=body, content_type="application/json",
                              headers={"x-paystack-signature": "0" * 128})
    assert forged.status_code == 401
    malformed = b"{not json"
    broken = APIClient().post("/api/v1/payments/webhooks/paystack", data=malformed, content_type="application/json",
                              headers=sign("paystack", malformed))
    assert broken.status_code == 400
    fund_wallet(user, 10_000)
    after = scrape()
    assert value(after, "payments_deposits_total", gateway="paystack", status="initialized") == \
        value(before, "payments_deposits_total", gateway="paystack", status="initialized") + 1
    for verdict in ("rejected_signature", "rejected_malformed"):
        assert value(after, "payments_webhook_deliveries_total", gateway="paystack", verdict=verdict) == \
            value(before, "payments_webhook_deliveries_total", gateway="paystack", verdict=verdict) + 1
    assert value(after, "wallets_journals_total", kind="deposit") == value(before, "wallets_journals_total", kind="deposit") + 1


# --- background work ----------------------------------------------------------------------------------


@shared_task(name="tests.metrics_always_fails")
def _always_fails() -> None:
    raise RuntimeError("boom")


def test_celery_task_failures_are_counted_by_task():
    before = scrape()
    result = _always_fails.apply(throw=False)  # runs the task through Celery's tracer, signals included
    assert result.failed()
    after = scrape()
    assert value(after, "celery_task_failures_total", task="tests.metrics_always_fails") == \
        value(before, "celery_task_failures_total", task="tests.metrics_always_fails") + 1


def test_celery_queue_depth_is_read_from_the_redis_broker(settings):
    """Publish real messages through kombu with the production key prefix; the gauge counts them."""
    import uuid

    from kombu import Connection

    prefix = f"{settings.REDIS_KEY_PREFIX}:celery-{uuid.uuid4().hex[:6]}:"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": prefix}
    assert value(scrape(), "celery_queue_length", queue="providers") == 0
    with Connection(settings.REDIS_URL, transport_options={"global_keyprefix": prefix}) as connection:
        queue = connection.SimpleQueue("providers")
        for n in range(3):
            queue.put({"n": n})
        try:
            after = scrape()
            assert value(after, "celery_queue_length", queue="providers") == 3
            assert value(after, "celery_queue_length", queue="webhooks") == 0
        finally:
            queue.clear()
            queue.close()


def test_queue_depth_is_absent_without_a_redis_broker(settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    assert total(scrape(), "celery_queue_length") == 0
    assert total(scrape(), "metrics_collector_errors") == 0


def test_callback_attempts_are_counted_by_outcome(user_client, user, receiver, clock):  # noqa: F811
    from django.db import transaction

    from accounts import callbacks

    response = user_client.post("/api/v1/webhooks", {"url": receiver.url(), "events": ["purchase.successful"]},
                                format="json")
    assert response.status_code == 201
    before = scrape()
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="purchase.successful:M1",
                                data={"reference": "M1"})
    assert len(receiver.requests) == 1
    after = scrape()
    assert value(after, "accounts_callback_attempts_total", outcome="success") == \
        value(before, "accounts_callback_attempts_total", outcome="success") + 1


def test_ledger_check_result_is_exposed():
    from wallets.services.checks import ledger_check_run

    check = ledger_check_run()
    assert check.ok
    after = scrape()
    assert value(after, "wallets_ledger_check_ok") == 1
    assert value(after, "wallets_ledger_check_findings") == 0
    assert abs(value(after, "wallets_ledger_check_last_run_timestamp_seconds") - check.finished_at.timestamp()) < 1


def test_a_failing_ledger_check_shows_zero(user):
    from django.db import connection

    from wallets.services.checks import ledger_check_run
    from wallets.tests.factories import wallet_for

    fund_wallet(user, 10_000)
    with connection.cursor() as cursor:  # corrupt a balance behind the ledger's back
        cursor.execute("UPDATE wallets_ledgeraccount SET balance_kobo = balance_kobo + 1 WHERE id = %s",
                       [wallet_for(user).pk])
    check = ledger_check_run(freeze=False)
    assert not check.ok
    after = scrape()
    assert value(after, "wallets_ledger_check_ok") == 0
    assert value(after, "wallets_ledger_check_findings") >= 1
