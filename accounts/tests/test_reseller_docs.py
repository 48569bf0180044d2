"""docs/reseller-guide.md and docs/callbacks.md stay true to the API: every path they name
exists in the OpenAPI schema, every error code they name is registered with the status they
give it, and the scope table matches what each view declares. The signature check a reseller
copies from README.md or docs/ verifies a real delivery."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from accounts import callbacks
from accounts.models import APIKey
from config.errors import ERROR_CODES

DOCS = ("reseller-guide.md", "callbacks.md")
_PATH_RE = re.compile(r"(?:(GET|POST|DELETE|PATCH|PUT) )?(/api/v1/[A-Za-z0-9_\-/{}.]+)")


def _text(name: str) -> str:
    return (settings.BASE_DIR / "docs" / name).read_text()


@pytest.fixture(scope="module")
def schema_paths() -> dict[str, set[str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {path: {method.upper() for method in ops} for path, ops in schema["paths"].items()}


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0].rstrip("."))


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_path_and_method_exists(doc, schema_paths):
    known = {_template(path): methods for path, methods in schema_paths.items()}
    found = _PATH_RE.findall(_text(doc))
    assert found
    for method, path in found:
        assert _template(path) in known, f"{doc}: {path} is not in the OpenAPI schema"
        if method:
            assert method in known[_template(path)], f"{doc}: {method} {path} is not in the schema"


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_error_code_is_registered_with_its_status(doc):
    text = _text(doc)
    for code in set(re.findall(r"`([A-Z][A-Z_]{3,})`", text)):
        # A setting (`CALLBACK_TIMEOUT_SECONDS`, `THROTTLE_API_KEY` is read from env) or an HTTP verb.
        if code in ERROR_CODES or hasattr(settings, code) or code in {"POST", "DELETE", "PATCH", "THROTTLE_API_KEY"}:
            continue
        raise AssertionError(f"{doc}: `{code}` is neither a registered error code nor a setting")
    for status, codes in re.findall(r"^\| (\d{3}) \| (.+?) \|", text, flags=re.MULTILINE):
        for code in re.findall(r"`([A-Z_]+)`", codes):
            assert ERROR_CODES[code][0] == int(status), f"{doc}: {code} is documented as {status}"


def test_the_scope_table_matches_the_views_both_ways():
    """Every operation a key may call is in the table under the scope it needs, and every
    row of the table is such an operation: reads (any GET a key passes) under `read`, each
    write under its view's `api_key_scope`. Which operations a key passes is the schema's
    ApiKeyAuth, itself checked against real requests (tests/test_schema_api_keys.py)."""
    rows = re.findall(r"^\| `(read|purchase|transfer|deposit)` \| (.+) \|$", _text("reseller-guide.md"), re.MULTILINE)
    assert sorted(scope for scope, _ in rows) == sorted(APIKey.Scope.values)
    documented = {
        scope: {(method or "GET", _template(path)) for method, path in _PATH_RE.findall(cell)} for scope, cell in rows
    }
    actual: dict[str, set[tuple[str, str]]] = {scope: set() for scope in APIKey.Scope.values}
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        view_class = resolve(re.sub(r"\{[^}]+\}", "1", path)).func.cls
        for method, operation in operations.items():
            if not any("ApiKeyAuth" in requirement for requirement in operation.get("security", [])):
                continue
            scope = "read" if method == "get" else view_class.api_key_scope
            actual[scope].add((method.upper(), _template(path)))
    for scope in actual:
        assert documented[scope] == actual[scope], (
            f"`{scope}`: missing from the guide {sorted(actual[scope] - documented[scope])}, "
            f"not a `{scope}` operation {sorted(documented[scope] - actual[scope])}"
        )


@pytest.mark.django_db
@pytest.mark.parametrize("doc", ["README.md", "docs/callbacks.md", "docs/reseller-guide.md"])
def test_the_python_signature_check_in_the_docs_verifies_a_real_delivery(doc, user_client, user, receiver, monkeypatch):
    """Each document's Python example, run as a reseller would paste it, against what we send."""
    snippet = (settings.BASE_DIR / doc).read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(snippet, doc, "exec"), namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    response = user_client.post("/api/v1/webhooks", {"url": receiver.url(), "events": ["purchase.successful"]},
                                format="json")
    secret = response.json()["secret"]
    with transaction.atomic():  # the real clock: the example checks the age of `t` against time.time()
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e-doc",
                                data={"reference": "VTU-1", "amount": 50_000})
    got = receiver.requests[0]
    header = got.headers["X-VTU-Signature"]
    assert verify(secret, header, got.body) is True
    assert verify(secret, header, got.body.replace(b"50000", b"90000")) is False
    assert verify("whsec_other", header, got.body) is False
    assert verify(secret, header.split(",")[1], got.body) is False  # no timestamp
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 600)  # the same delivery replayed 10 minutes later
    assert verify(secret, header, got.body) is False
