"""Every API endpoint x every API-key scope, with the endpoint list built from the URLconf,
so an endpoint added later is in the matrix without anyone remembering to add it.

The rule (DESIGN §6, config.api.permissions.APIKeyScope): a key reads (GET) with `read`,
writes only where the view declares `api_key_scope` and the key has it, and never reaches a
staff endpoint. A view whose own `permission_classes` leave out APIKeyScope would let every
key write: the matrix fails for it (unless it is public: AllowAny).
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from accounts import api_keys
from accounts.tests.reseller_fixtures import issue_key
from config.api.permissions import APIKeyScope, IsStaff

METHODS = ("get", "post", "put", "patch", "delete")
_DUMMY = {"int": "999999", "str": "nothing-here", "slug": "nothing-here", "path": "nothing-here",
          "uuid": "00000000-0000-0000-0000-000000000000"}


def _walk(patterns: list, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            # Only the admin uses regex routes; one under the API would escape the matrix.
            assert not prefix.startswith("api/"), f"regex route {prefix}{entry.pattern}: use path()"
            continue
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            found.append((route, entry.callback))
    return found


def _fill(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: _DUMMY[m.group(1) or "str"], route)


def api_endpoints() -> list[tuple[str, str, type]]:
    endpoints = []
    for route, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None)  # DRF views only; plain Django views take no key
        if not route.startswith("api/v1/") or view_class is None:
            continue
        endpoints += [(_fill(route), method, view_class) for method in METHODS if hasattr(view_class, method)]
    return endpoints


ENDPOINTS = api_endpoints()


def expected(view_class: type, method: str, scope: str) -> str:
    """'staff', 'allowed', 'refused' or 'unguarded'."""
    permissions = list(view_class.permission_classes)
    if any(issubclass(p, IsStaff) for p in permissions):
        return "staff"
    if APIKeyScope in permissions:
        needed = "read" if method == "get" else getattr(view_class, "api_key_scope", None)
        return "allowed" if needed == scope else "refused"
    if permissions == [AllowAny]:
        return "allowed"
    return "unguarded"


def test_the_matrix_covers_the_reseller_endpoints():
    paths = {path for path, _, _ in ENDPOINTS}
    assert {"/api/v1/keys", "/api/v1/webhooks", "/api/v1/kyc/submit", "/api/v1/auth/me"} <= paths
    assert len(ENDPOINTS) >= 15


@pytest.fixture
def keys(db):
    from accounts.tests.factories import UserFactory

    user = UserFactory()
    return {scope: issue_key(user, [scope]) for scope in api_keys.SCOPES}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method", "view_class"), ENDPOINTS, ids=[f"{m.upper()} {p}" for p, m, _ in ENDPOINTS])
def test_each_scope_on_each_endpoint(keys, path, method, view_class):
    for scope, raw in keys.items():
        rule = expected(view_class, method, scope)
        assert rule != "unguarded", f"{view_class.__name__} sets permission_classes without APIKeyScope"
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=raw, HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        response = getattr(client, method)(path, {}, format="json")
        body = response.json() if response.get("Content-Type", "").startswith("application/json") else None
        code = body.get("error_code") if isinstance(body, dict) else None
        label = f"{method.upper()} {path} with scope {scope}: {response.status_code} {code}"
        if rule == "staff":
            assert response.status_code == 403 and code == "STAFF_ONLY", label
        elif rule == "refused":
            assert response.status_code == 403 and code == "INSUFFICIENT_SCOPE", label
        else:
            assert response.status_code != 401 and code not in ("INSUFFICIENT_SCOPE", "STAFF_ONLY"), label


def test_identity_endpoints_never_take_key_writes():
    """Keys, callback endpoints, KYC, password and PIN are managed with a JWT only: a leaked
    key must not be able to mint keys, redirect callbacks or change the account."""
    accounts_views = {view_class for _, _, view_class in ENDPOINTS if view_class.__module__.startswith("accounts.")}
    assert accounts_views
    assert {v.__name__ for v in accounts_views if getattr(v, "api_key_scope", None)} == set()
