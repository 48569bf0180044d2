"""API keys: issue once, hash only, authenticate, revoke, expire, roll over, limits, IP
allow-list, per-key throttle, batched last-used."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import api_keys, tasks
from accounts.models import APIKey
from accounts.tests import urls_reseller as probe
from accounts.tests.factories import UserFactory
from accounts.tests.reseller_fixtures import issue_key, rows_containing
from audit.models import AuditLog
from config.models import IdempotencyRecord
from conftest import authenticate

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls_reseller")]

KEY_RE = re.compile(r"^vtu_(live|test)_[A-Za-z0-9]{8}_[A-Za-z0-9]{40}$")


@pytest.fixture(autouse=True)
def _reset_probe():
    probe.calls.clear()


def key_client(raw_key: str, **extra) -> APIClient:
    client = APIClient(**extra)
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def test_create_returns_the_key_once_and_the_database_keeps_only_its_hash(user_client, user):
    response = user_client.post(
        "/api/v1/keys", {"name": "my shop", "scopes": ["read", "purchase"], "expires_in": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert KEY_RE.match(raw)
    assert body["prefix"] == raw.rsplit("_", 1)[0]
    assert body["scopes"] == ["read", "purchase"]
    assert body["status"] == "active"
    stored = APIKey.objects.get(pk=body["id"])
    assert stored.secret_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (stored.expires_at - stored.created_at) == timedelta(days=30)
    secret_part = raw.rsplit("_", 1)[1]
    assert rows_containing(secret_part) == []  # no table, audit log included, holds the secret
    listed = user_client.get("/api/v1/keys").json()
    assert listed["count"] == 1
    assert "key" not in listed["results"][0] and secret_part not in str(listed)
    assert set(listed["results"][0]) >= {"name", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "status"}
    assert AuditLog.objects.filter(action="api_key.create", target_id=str(stored.pk)).count() == 1


def test_key_works_alongside_jwt_and_sets_request_api_key(user):
    raw = issue_key(user, ["read", "purchase"])
    me = key_client(raw).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    bought = key_client(raw).post("/api/v1/test/purchase", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert bought.status_code == 201
    assert bought.json()["via_key"] is True
    assert probe.calls[0]["api_key"].prefix == raw.rsplit("_", 1)[0]


@pytest.mark.parametrize(
    "raw",
    ["nonsense", "vtu_live_AAAAAAAA_" + "B" * 40, "vtu_live_short_x", "Bearer vtu_live_AAAAAAAA_" + "B" * 40],
)
def test_unknown_or_malformed_key_is_401_api_key_invalid(user, raw):
    response = key_client(raw).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "API_KEY_INVALID"


def test_right_prefix_wrong_secret_is_invalid(user):
    raw = issue_key(user)
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    response = key_client(forged).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "API_KEY_INVALID"


def test_revoked_key_is_401_api_key_revoked_and_revoke_is_audited(user_client, user):
    raw = issue_key(user)
    key = APIKey.objects.get(user=user)
    revoked = user_client.post(f"/api/v1/keys/{key.pk}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert user_client.post(f"/api/v1/keys/{key.pk}/revoke").status_code == 200  # idempotent
    assert AuditLog.objects.filter(action="api_key.revoke", target_id=str(key.pk)).count() == 1
    response = key_client(raw).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "API_KEY_REVOKED"


def test_someone_elses_key_cannot_be_revoked(user_client):
    other = UserFactory()
    issue_key(other)
    key = APIKey.objects.get(user=other)
    response = user_client.post(f"/api/v1/keys/{key.pk}/revoke")
    assert response.status_code == 404
    assert APIKey.objects.get(pk=key.pk).revoked_at is None


def test_expired_key_is_401_api_key_expired(user):
    raw = issue_key(user)
    APIKey.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = key_client(raw).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "API_KEY_EXPIRED"


def test_inactive_user_key_is_refused(user):
    raw = issue_key(user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    response = key_client(raw).get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error_code"] == "API_KEY_INVALID"


def test_rollover_of_an_expired_key_copies_scopes_onto_a_new_key(user_client, user):
    issue_key(user, ["read", "transfer"], allowed_ips=["127.0.0.1"])
    old = APIKey.objects.get(user=user)
    APIKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    response = user_client.post("/api/v1/keys/rollover", {"key_id": old.pk, "expires_in": 10}, format="json")
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["scopes"] == ["read", "transfer"]
    assert new["allowed_ips"] == ["127.0.0.1/32"]
    assert new["id"] != old.pk and KEY_RE.match(new["key"])
    old.refresh_from_db()
    assert old.rolled_over_to_id == new["id"]
    assert key_client(new["key"]).get("/api/v1/auth/me").status_code == 200
    again = user_client.post("/api/v1/keys/rollover", {"key_id": old.pk}, format="json")
    assert again.status_code == 409
    assert again.json()["error_code"] == "INVALID_STATE"
    assert APIKey.objects.filter(user=user).count() == 2
    assert AuditLog.objects.filter(action="api_key.rollover").count() == 1


def test_rollover_of_an_active_key_revokes_it(user_client, user):
    raw = issue_key(user, ["read"])
    old = APIKey.objects.get(user=user)
    response = user_client.post("/api/v1/keys/rollover", {"key_id": old.pk}, format="json")
    assert response.status_code == 201
    assert key_client(raw).get("/api/v1/auth/me").json()["error_code"] == "API_KEY_REVOKED"
    assert key_client(response.json()["key"]).get("/api/v1/auth/me").status_code == 200


def test_rollover_of_a_revoked_key_is_refused(user_client, user):
    issue_key(user)
    old = APIKey.objects.get(user=user)
    api_keys.api_key_revoke(user=user, key_id=old.pk)
    response = user_client.post("/api/v1/keys/rollover", {"key_id": old.pk}, format="json")
    assert response.status_code == 409
    assert APIKey.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "x", "scopes": "read"}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"], "expires_in": "30"}, "expires_in"),
        ({"name": "x", "scopes": ["read"], "expires_in": 0}, "expires_in"),
        ({"name": "x", "scopes": ["read"], "expires_in": 731}, "expires_in"),
        ({"name": "x", "scopes": ["read"], "allowed_ips": ["not-an-ip"]}, "allowed_ips"),
    ],
)
def test_bad_create_input_is_400_and_stores_nothing(user_client, body, field):
    response = user_client.post("/api/v1/keys", body, format="json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert field in response.json()["errors"]
    assert APIKey.objects.count() == 0
    assert not AuditLog.objects.filter(action="api_key.create").exists()


def test_at_most_five_active_keys_expired_and_revoked_do_not_count(user_client, user, settings):
    settings.API_KEY_MAX_ACTIVE = 5
    for _ in range(5):
        issue_key(user)
    refused = user_client.post("/api/v1/keys", {"name": "sixth", "scopes": ["read"]}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "API_KEY_LIMIT"
    assert APIKey.objects.filter(user=user).count() == 5
    first, second = APIKey.objects.filter(user=user).order_by("id")[:2]
    api_keys.api_key_revoke(user=user, key_id=first.pk)
    APIKey.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert user_client.post("/api/v1/keys", {"name": "6", "scopes": ["read"]}, format="json").status_code == 201
    assert user_client.post("/api/v1/keys", {"name": "7", "scopes": ["read"]}, format="json").status_code == 201
    assert user_client.post("/api/v1/keys", {"name": "8", "scopes": ["read"]}, format="json").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_parallel_creation_never_passes_the_limit(settings):
    settings.API_KEY_MAX_ACTIVE = 5
    user = UserFactory()
    results: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            api_keys.api_key_create(user=user, name="race", scopes=["read"])
            results.append("ok")
        except api_keys.APIKeyLimit:
            results.append("limit")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["limit"] * 3 + ["ok"] * 5
    assert APIKey.objects.filter(user=user).count() == 5


def test_a_key_cannot_manage_keys_webhooks_or_reach_staff_endpoints(user):
    staff_user = UserFactory(is_staff=True, is_superuser=True)
    raw = issue_key(user, list(api_keys.SCOPES))
    client = key_client(raw)
    for path, body in [("/api/v1/keys", {"name": "x", "scopes": ["read"]}), ("/api/v1/keys/rollover", {"key_id": 1})]:
        response = client.post(path, body, format="json")
        assert response.status_code == 403
        assert response.json()["error_code"] == "INSUFFICIENT_SCOPE"
    assert APIKey.objects.count() == 1
    staff_raw = issue_key(staff_user, list(api_keys.SCOPES))
    staff = key_client(staff_raw).get("/api/v1/test/staff")
    assert staff.status_code == 403
    assert staff.json()["error_code"] == "STAFF_ONLY"


def test_scope_is_enforced_on_writes_and_reads(user):
    read_only = key_client(issue_key(user, ["read"]))
    refused = read_only.post("/api/v1/test/purchase", {}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "INSUFFICIENT_SCOPE"
    purchase_only = key_client(issue_key(user, ["purchase"]))
    no_read = purchase_only.get("/api/v1/auth/me")
    assert no_read.status_code == 403
    assert no_read.json()["error_code"] == "INSUFFICIENT_SCOPE"
    assert probe.calls == []


def test_money_post_with_a_key_needs_an_idempotency_key(user):
    client = key_client(issue_key(user, ["purchase"]))
    response = client.post("/api/v1/test/purchase", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert probe.calls == [] and IdempotencyRecord.objects.count() == 0
    first = client.post("/api/v1/test/purchase", {}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    replay = client.post("/api/v1/test/purchase", {}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotency-Replayed"] == "true"
    assert len(probe.calls) == 1


def test_suspended_users_key_reads_but_cannot_write(user):
    raw = issue_key(user, ["read", "purchase"])
    type(user).objects.filter(pk=user.pk).update(suspended_at=timezone.now())
    assert key_client(raw).get("/api/v1/auth/me").status_code == 200
    refused = key_client(raw).post("/api/v1/test/purchase", {}, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "ACCOUNT_SUSPENDED"
    assert probe.calls == []
    # Taking power away still works: the owner can revoke the key.
    key = APIKey.objects.get(user=user)
    revoked = authenticate(APIClient(), user).post(f"/api/v1/keys/{key.pk}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_ip_allow_list(user):
    raw = issue_key(user, ["read"], allowed_ips=["10.1.2.0/24", "2001:db8::1"])
    assert key_client(raw, REMOTE_ADDR="10.1.2.77").get("/api/v1/auth/me").status_code == 200
    assert key_client(raw, REMOTE_ADDR="2001:db8::1").get("/api/v1/auth/me").status_code == 200
    refused = key_client(raw, REMOTE_ADDR="10.1.3.1").get("/api/v1/auth/me")
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "IP_NOT_ALLOWED"
    # A client cannot claim another address with X-Forwarded-For (NUM_PROXIES is 0).
    spoofed = key_client(raw, REMOTE_ADDR="10.1.3.1", HTTP_X_FORWARDED_FOR="10.1.2.5").get("/api/v1/auth/me")
    assert spoofed.status_code == 403


@pytest.mark.parametrize(
    ("allowed", "client", "status"),
    [
        ("10.1.2.0/24", "::ffff:10.1.2.77", 200),  # a dual-stack server's view of an IPv4 client
        ("10.1.2.0/24", "::ffff:10.1.3.1", 403),
        ("10.1.2.7", "::ffff:10.1.2.7", 200),
        ("::ffff:10.1.2.0/120", "10.1.2.8", 200),  # a mapped entry is kept as 10.1.2.0/24
        ("::ffff:10.1.2.0/120", "::ffff:10.1.2.8", 200),
        ("::ffff:10.1.2.0/120", "10.1.3.8", 403),
    ],
)
def test_ip_allow_list_matches_ipv4_mapped_addresses(user, allowed, client, status):
    raw = issue_key(user, ["read"], allowed_ips=[allowed])
    response = key_client(raw, REMOTE_ADDR=client).get("/api/v1/auth/me")
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error_code"] == "IP_NOT_ALLOWED"


def test_a_mapped_allow_list_entry_is_stored_in_its_ipv4_form(user):
    assert api_keys.normalize_allowed_ips(["::ffff:10.1.2.0/120", "::ffff:192.0.2.1", "2001:db8::/64"]) == [
        "10.1.2.0/24", "192.0.2.1/32", "2001:db8::/64"
    ]


def test_throttle_counts_per_key(user, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], api_key="3/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    first, second = issue_key(user), issue_key(user)
    statuses = [key_client(first).get("/api/v1/auth/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = key_client(first).get("/api/v1/auth/me")
    assert throttled.json()["error_code"] == "THROTTLED" and int(throttled["Retry-After"]) >= 1
    assert key_client(second).get("/api/v1/auth/me").status_code == 200


def test_last_used_is_batched_not_written_per_request(user):
    raw = issue_key(user)
    key = APIKey.objects.get(user=user)
    with CaptureQueriesContext(connection) as queries:
        assert key_client(raw, REMOTE_ADDR="127.0.0.9").get("/api/v1/auth/me").status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert not [sql for sql in writes if "accounts_apikey" in sql], writes
    key.refresh_from_db()
    assert key.last_used_at is None
    assert tasks.api_key_usage_flush() == 1
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_ip == "127.0.0.9"
    assert tasks.api_key_usage_flush() == 0  # nothing new since


def test_logs_mask_a_whole_key_but_keep_its_prefix_readable(user, log_output):
    import structlog

    raw = issue_key(user)
    prefix, secret = raw.rsplit("_", 1)
    structlog.get_logger("tests").warning("key_seen", note=f"client sent {raw}", key_prefix=prefix)
    logged = log_output.getvalue()
    assert "key_seen" in logged  # the capture works
    assert secret not in logged and raw not in logged
    assert prefix in logged
    audit = AuditLog.objects.get(action="api_key.create")
    assert audit.changes["prefix"] == [None, prefix]


@pytest.mark.parametrize(
    ("state", "status", "code"),
    [("unknown", 401, "API_KEY_INVALID"), ("revoked", 401, "API_KEY_REVOKED"), ("expired", 401, "API_KEY_EXPIRED"),
     ("wrong_ip", 403, "IP_NOT_ALLOWED"), ("no_scope", 403, "INSUFFICIENT_SCOPE")],
)
def test_a_refused_key_moves_nothing_on_a_money_post(user, state, status, code):
    raw = issue_key(user, ["read"] if state == "no_scope" else ["purchase"], allowed_ips=["10.9.9.9"] if state == "wrong_ip" else None)
    key = APIKey.objects.get(user=user)
    if state == "unknown":
        raw = "vtu_live_ZZZZZZZZ_" + "Z" * 40
    elif state == "revoked":
        api_keys.api_key_revoke(user=user, key_id=key.pk)
    elif state == "expired":
        APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    audit_rows = AuditLog.objects.count()
    response = key_client(raw).post("/api/v1/test/purchase", {"amount": 100}, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert (response.status_code, response.json()["error_code"]) == (status, code)
    assert probe.calls == []
    assert IdempotencyRecord.objects.count() == 0
    assert AuditLog.objects.count() == audit_rows
    # A key that did not authenticate is not "used"; one refused for its scope did authenticate.
    assert tasks.api_key_usage_flush() == (1 if state == "no_scope" else 0)
