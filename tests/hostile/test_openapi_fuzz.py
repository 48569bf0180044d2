"""Schemathesis against the project's own OpenAPI schema, for every operation, as a customer
(JWT), a reseller (API key with every scope) and staff (superuser JWT).

Each (operation, identity) pair is its own test, so every one starts from fresh fixtures
(tests/hostile/openapi_world.py): a destructive staff operation (suspend, freeze, debit,
approve) never leaks into the next pair. Generated requests go through the real WSGI
application (middleware, DRF, services, PostgreSQL). Each pair first sends the operation's
known-good request (real ids, a valid body, fresh tokens): it must answer 2xx where the
identity is allowed to make it (openapi_world.expected_2xx) and must be refused where it is
not. Then the fuzz: generated requests, path parameters sometimes swapped for the identity's
real ids and bodies for the known-good one, generated credentials stripped so the identity's
own are the ones used.

Checks on every response: no 5xx; the status is one the schema documents; the body matches
the documented schema for that status. Afterwards `test_operations_reaching_2xx` checks the
floor per identity (every operation it is allowed must have reached a 2xx), writes the
per-operation, per-identity report to $HOSTILE_REPORT (default
/tmp/hostile-openapi-report.json) and prints its summary at the end of the run.

Short in `make test` (HOSTILE_EXAMPLES, default 5 generated per pair); `make hostile` runs 100.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.hostile.openapi_world import build_world, expected_2xx, known_good, outside_world
from vtu.tests.conftest import _no_catalogue_cache, catalogue, world  # noqa: F401 - fixtures
from wallets.invariants import assert_ledger_invariants

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "5"))  # + the known-good request: 6 per pair
SEED = int(os.environ.get("HOSTILE_SEED", "20261123"))
REPORT = os.environ.get("HOSTILE_REPORT", "/tmp/hostile-openapi-report.json")
IDENTITIES = ("customer", "reseller", "staff")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
GENERATED_CREDENTIALS = ("authorization", "x-api-key", "cookie")  # the identity's own are sent instead
SUMMARY: list[str] = []  # printed by tests/hostile/conftest.py at the end of the run

_schema = None
RESULTS: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))


def load_schema():
    """Loaded once, from the running application's /api/schema/ (what clients see)."""
    global _schema
    if _schema is None:
        from config.wsgi import application

        _schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    return _schema


def operation_ids() -> list[str]:
    """Read without the database: the schema generator over the URLconf (same as /api/schema/)."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes 'old' connections at request start/end; inside a test that
    would close the test's own transaction (Django's test client disconnects it the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _send(case, identity) -> object:
    """The identity's credentials only: a generated Authorization or X-API-Key header would
    otherwise win over (or mix with) them and turn the request into a 401."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in GENERATED_CREDENTIALS}
    if case.method == "POST":
        # Money POSTs require one from key clients; a fresh one per request so replays of an
        # earlier example's stored answer never mask what this body does.
        headers["Idempotency-Key"] = f"fuzz-{os.urandom(8).hex()}"
    case.headers = headers
    return case.call(headers=identity.headers)


@pytest.mark.parametrize("identity_name", IDENTITIES)
@pytest.mark.parametrize("operation_id", operation_ids())
def test_operation(operation_id: str, identity_name: str, catalogue, settings, monkeypatch):  # noqa: F811 - fixture
    method, path = operation_id.split(" ", 1)
    operation = load_schema()[path][method]
    record = RESULTS[operation_id][identity_name]
    with outside_world(settings, monkeypatch):
        identity = build_world(identity_name)
        good = known_good(operation_id, identity)
        case = operation.Case(**good)
        response = _send(case, identity)
        record[str(response.status_code)] += 1
        allowed = expected_2xx(operation_id, identity_name)
        assert (200 <= response.status_code < 300) == allowed, (
            f"known-good {operation_id} as {identity_name}: {response.status_code} {response.text[:300]}")
        case.validate_response(response, checks=CHECKS)
        _fuzz(operation, identity, good, record)
    assert_ledger_invariants()  # whatever the fuzz moved, it moved by the ledger's rules


def _fuzz(operation, identity, good: dict, record) -> None:
    real_params, real_body = good.get("path_parameters") or {}, good.get("body")

    @seed(SEED)
    @given(case=operation.as_strategy(), use_real=st.booleans())
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck))
    def run(case, use_real: bool) -> None:
        if real_params and use_real:
            case.path_parameters = {**(case.path_parameters or {}), **real_params}
        if isinstance(real_body, dict) and use_real:
            case.body = dict(real_body)
        response = _send(case, identity)
        record[str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_operations_reaching_2xx():
    """Runs after the parametrized tests (file order). Skipped when only a subset was run."""
    ops = operation_ids()
    if set(RESULTS) != set(ops) or any(set(RESULTS[op]) != set(IDENTITIES) for op in ops):
        pytest.skip("only part of the fuzz ran (-k or a failure): no report")
    per_identity = {}
    for who in IDENTITIES:
        reached = [op for op in ops if any(s.startswith("2") for s in RESULTS[op][who])]
        allowed = [op for op in ops if expected_2xx(op, who)]
        per_identity[who] = {"allowed": len(allowed), "reached_2xx": len(reached),
                             "allowed_without_2xx": sorted(set(allowed) - set(reached)),
                             "2xx_where_refusal_expected": sorted(set(reached) - set(allowed))}
    report = {
        "examples_per_pair": EXAMPLES, "seed": SEED, "operations": len(ops), "per_identity": per_identity,
        "per_operation": {op: {who: dict(RESULTS[op][who]) for who in IDENTITIES} for op in ops},
    }
    with open(REPORT, "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    SUMMARY.append(f"schemathesis: {len(ops)} operations x {len(IDENTITIES)} identities, {EXAMPLES} generated "
                   f"examples per pair + one known-good request; report in {REPORT}")
    SUMMARY.extend(f"  {who}: {figures['reached_2xx']}/{len(ops)} operations reached a 2xx "
                   f"({figures['allowed']} allowed to this identity)" for who, figures in per_identity.items())
    for who, figures in per_identity.items():
        assert not figures["allowed_without_2xx"], (who, figures["allowed_without_2xx"])
        assert not figures["2xx_where_refusal_expected"], (who, figures["2xx_where_refusal_expected"])
