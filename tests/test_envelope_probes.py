"""The envelope where Django would answer HTML or an empty body: probes with the wrong method,
CSRF failures on API paths, unknown /api/ paths with DEBUG on."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

from config.api.envelope import is_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.test_envelope_probes")]


def _plain_form_view(request):
    return HttpResponse("changed")


urlpatterns = [path("api/v1/test/plain-form", _plain_form_view), path("", include("config.urls"))]
handler404 = "config.views.handler404"
handler500 = "config.views.handler500"


@pytest.mark.parametrize("probe", ["/healthz", "/readyz", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_answer_a_wrong_method_with_405_in_the_envelope(probe, method):
    response = getattr(Client(enforce_csrf_checks=True), method)(probe)
    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response["Allow"]


@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_probes_answer_head_like_get(probe):
    response = Client().head(probe)
    assert response.status_code == 200
    assert response.content == b""


def test_csrf_failure_on_an_api_path_is_the_envelope():
    response = Client(enforce_csrf_checks=True).post("/api/v1/test/plain-form", {"a": "b"})
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_csrf_failure_on_a_form_page_stays_html():
    response = Client(enforce_csrf_checks=True).post("/reset-password", {"token": "x", "new_password": "y"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path_", ["/api/v1/no-such-thing", "/api/no-such-thing", "/api/v1/auth/login/"])
def test_unknown_api_path_is_the_envelope_even_with_debug_on(settings, path_):
    settings.DEBUG = True
    response = Client().get(path_)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert is_envelope(response.content) and response.json()["error_code"] == "NOT_FOUND"


def test_readyz_says_skipped_for_redis_when_none_is_configured(settings):
    settings.REDIS_URL = ""
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "skipped", "migrations": "ok"}


def test_readyz_names_only_what_failed(settings, monkeypatch):
    from config import views

    monkeypatch.setattr(views, "_check_database", lambda: "database: OperationalError")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["errors"] == {"database": "database: OperationalError"}
