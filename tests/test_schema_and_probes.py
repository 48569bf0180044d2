from __future__ import annotations

import contextlib
import io

import pytest
import yaml
from django.core.management import call_command

from config.errors import ERROR_CODES

pytestmark = pytest.mark.django_db


def test_openapi_schema_exports_the_envelope_and_every_error_code(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["x-error-codes"]) == set(ERROR_CODES)
    assert schema["x-error-codes"]["INSUFFICIENT_FUNDS"]["status"] == 402
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["detail", "error_code", "errors"]
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert "429" in login["responses"] and "400" in login["responses"]
    for path in schema["paths"]:
        assert not path.endswith("/"), f"trailing slash on {path}"


def _generate_schema_with_warnings_on(monkeypatch, **patches) -> tuple[list[str], str]:
    """Generate the schema as `manage.py spectacular` does, with drf-spectacular's warnings
    printed (settings silence them outside DEBUG) and counted from zero; return the warnings
    and errors it emitted, and what it printed."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.plumbing import _load_enum_name_overrides
    from drf_spectacular.settings import patched_settings

    monkeypatch.setattr(GENERATOR_STATS, "silent", False)
    GENERATOR_STATS.reset()
    _load_enum_name_overrides.cache_clear()  # the overrides are read once per process
    err = io.StringIO()
    try:
        with patched_settings(patches), contextlib.redirect_stderr(err):
            call_command("spectacular", "--validate", "--file", "/dev/null")
        emitted = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    finally:
        GENERATOR_STATS.reset()
        _load_enum_name_overrides.cache_clear()
    return emitted, err.getvalue()


def test_schema_generates_without_warnings(monkeypatch):
    emitted, printed = _generate_schema_with_warnings_on(monkeypatch)
    assert emitted == [], printed


def test_the_schema_warning_check_catches_a_warning(monkeypatch):
    """Without the override, vtu's product and pricing's kind are one choice set under two
    names: the check above must see that warning."""
    emitted, printed = _generate_schema_with_warnings_on(monkeypatch, ENUM_NAME_OVERRIDES={})
    assert any("multiple names for the same choice set" in message for message in emitted), emitted
    assert "multiple names for the same choice set" in printed


def test_docs_pages_are_served(api_client):
    assert api_client.get("/api/docs/").status_code == 200
    assert api_client.get("/api/redoc/").status_code == 200


def test_healthz_and_readyz(api_client):
    assert api_client.get("/healthz").json() == {"status": "ok"}
    ready = api_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "migrations": "ok"}


def test_readyz_names_what_failed(api_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert "redis" in body["errors"] and "redis" in body["detail"]
