"""The OpenAPI schema tells the truth about API keys and Idempotency-Key, checked against the
running views rather than against the rule that generates it:

- an operation lists ApiKeyAuth exactly when a request made with a key that has every scope
  gets past the view's permissions (a key of a staff superuser: staff endpoints must refuse
  it anyway);
- an operation declares the Idempotency-Key header exactly when its handler is @idempotent,
  and where a key may call it, a key request without the header is 400
  IDEMPOTENCY_KEY_REQUIRED, as the header's description says.

Every request sent here is refused or invalid (empty body, no Idempotency-Key): nothing moves.
"""

from __future__ import annotations

import re

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts import api_keys
from accounts.tests.factories import UserFactory
from wallets.models import Journal

pytestmark = pytest.mark.django_db

KEY_REFUSALS = {"INSUFFICIENT_SCOPE", "STAFF_ONLY", "PERMISSION_DENIED", "NOT_AUTHENTICATED", "API_KEY_INVALID"}


def _operations() -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(path, method.upper(), op) for path, ops in schema["paths"].items() for method, op in ops.items()]


OPERATIONS = _operations()


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _handler(path: str, method: str):  # type: ignore[no-untyped-def]
    return getattr(resolve(_url(path)).func.cls, method.lower(), None)


def _schemes(op: dict) -> set[str]:
    return {name for requirement in op.get("security", []) for name in requirement}


def _public(op: dict) -> bool:
    """Anonymous callers allowed (login, register, ...): a key is neither needed nor checked."""
    return {} in op.get("security", [])


@pytest.fixture
def keyed() -> APIClient:
    owner = UserFactory(is_staff=True, is_superuser=True)
    raw = api_keys.api_key_create(user=owner, name="all scopes", scopes=list(api_keys.SCOPES)).plaintext
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _send(client: APIClient, method: str, path: str):  # type: ignore[no-untyped-def]
    return getattr(client, method.lower())(_url(path), {}, format="json")


def _refused_for_the_key(response) -> bool:  # type: ignore[no-untyped-def]
    try:
        code = response.json().get("error_code")
    except (ValueError, AttributeError):
        return False
    return response.status_code in (401, 403) and code in KEY_REFUSALS


@pytest.mark.parametrize(("path", "method", "op"), [o for o in OPERATIONS if not _public(o[2])],
                         ids=[f"{m} {p}" for p, m, o in OPERATIONS if not _public(o)])
def test_api_key_auth_is_listed_exactly_where_a_key_passes(keyed, path, method, op):
    response = _send(keyed, method, path)
    listed = "ApiKeyAuth" in _schemes(op)
    refused = _refused_for_the_key(response)
    assert listed != refused, (
        f"{method} {path}: the schema {'lists' if listed else 'omits'} ApiKeyAuth but a key got "
        f"{response.status_code} {response.content[:200]!r}"
    )
    assert Journal.objects.count() == 0


def test_no_staff_or_jwt_only_write_lists_api_key_auth():
    """The operations the audit named, spelled out (the walk above proves the general rule)."""
    by_op = {(method, path): _schemes(op) for path, method, op in OPERATIONS}
    for method, path in [("POST", "/api/v1/keys"), ("POST", "/api/v1/keys/rollover"), ("POST", "/api/v1/webhooks"),
                         ("POST", "/api/v1/kyc/submit"), ("POST", "/api/v1/kyc/resubmit/{submission_id}"),
                         ("DELETE", "/api/v1/webhooks/{endpoint_id}"), ("POST", "/api/v1/admin/fund-wallet")]:
        assert "ApiKeyAuth" not in by_op[(method, path)], f"{method} {path}"
        assert "jwtAuth" in by_op[(method, path)]
    assert all("ApiKeyAuth" not in schemes for (method, path), schemes in by_op.items() if "/admin/" in path)
    for method, path in [("POST", "/api/v1/data/purchase"), ("GET", "/api/v1/wallet/me"), ("POST", "/api/v1/wallet/fund")]:
        assert "ApiKeyAuth" in by_op[(method, path)], f"{method} {path}"


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_the_idempotency_key_header_is_declared_exactly_on_idempotent_handlers(path, method, op):
    headers = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
    idempotent = getattr(_handler(path, method), "idempotent", False)
    assert ("Idempotency-Key" in headers) == idempotent, f"{method} {path}"
    if idempotent:
        described = headers["Idempotency-Key"]["description"]
        assert ("Required with an API key" in described) == ("ApiKeyAuth" in _schemes(op)), f"{method} {path}"


@pytest.mark.parametrize(
    ("path", "method"),
    [(p, m) for p, m, o in OPERATIONS if "ApiKeyAuth" in _schemes(o) and getattr(_handler(p, m), "idempotent", False)],
)
def test_where_the_schema_says_required_a_key_request_without_it_is_refused(keyed, path, method):
    response = _send(keyed, method, path)
    assert response.status_code == 400 and response.json()["error_code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_the_money_posts_the_audit_named_declare_the_header():
    declared = {(m, p) for p, m, o in OPERATIONS if any(x["name"] == "Idempotency-Key" for x in o.get("parameters", []))}
    for path in ("/api/v1/data/purchase", "/api/v1/airtime/purchase", "/api/v1/wallet/fund",
                 "/api/v1/wallet/virtual-accounts", "/api/v1/wallet/transfer"):
        assert ("POST", path) in declared, path
