from __future__ import annotations

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


def test_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", "/dev/null")


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
