"""docs/reseller-guide.md and docs/callbacks.md stay true to the API: every path they name
exists in the OpenAPI schema, every error code they name is registered with the status they
give it, and the scope table matches what each view declares."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

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


def test_the_scope_table_matches_the_views():
    rows = re.findall(r"^\| `(read|purchase|transfer|deposit)` \| (.+) \|$", _text("reseller-guide.md"), re.MULTILINE)
    assert {scope for scope, _ in rows} == {"read", "purchase", "transfer", "deposit"}
    for scope, cell in rows:
        for method, path in _PATH_RE.findall(cell):
            view_class = resolve(re.sub(r"\{[^}]+\}", "1", path)).func.cls
            if scope == "read":
                assert hasattr(view_class, "get"), path
            else:
                assert method == "POST" and getattr(view_class, "api_key_scope", None) == scope, f"{method} {path}"
