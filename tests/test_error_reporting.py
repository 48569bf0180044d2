"""Sentry and OpenTelemetry are off by default and switch on from the environment alone.

Each case boots Django in a subprocess (both libraries patch process-wide state: Django's
middleware, the global tracer provider), with a DSN and an OTLP endpoint on loopback
that nothing listens on: initialising sends nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import django, sentry_sdk
django.setup()
from opentelemetry import trace
print("sentry", sentry_sdk.get_client().is_active())
print("tracer", type(trace.get_tracer_provider()).__name__)
"""


def _boot(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings_test", **env},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_off_by_default():
    out = _boot()
    assert "sentry False" in out
    assert "tracer ProxyTracerProvider" in out  # the API's no-op default: nothing exported


def test_sentry_and_tracing_switch_on_from_env():
    out = _boot(SENTRY_DSN="http://public@127.0.0.1:9/1", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert "sentry True" in out
    assert "tracer TracerProvider" in out


CAPTURE = r'''
import json, sys, types
import django
django.setup()
import sentry_sdk
from django.conf import settings
from django.test import Client
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

envelopes = []


class Capture(sentry_sdk.transport.Transport):
    """Keeps what would be sent; nothing leaves the process."""

    def capture_envelope(self, envelope):
        envelopes.append(envelope.serialize())

    def flush(self, timeout, callback=None):
        pass

    def kill(self):
        pass


sentry_sdk.get_client().transport = Capture()


def plain(request):
    data = json.loads(request.body)
    raise RuntimeError("plain view failed " + str(len(data)))


class Api(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        data = request.data
        raise RuntimeError("api view failed " + str(len(data)))


urls = types.ModuleType("crash_urls")
urls.urlpatterns = [path("crash", plain), path("crash-api", Api.as_view())]
sys.modules["crash_urls"] = urls
settings.ROOT_URLCONF = "crash_urls"
client = Client(raise_request_exception=False)
with open(sys.argv[1]) as source:  # not on the command line: Sentry reports sys.argv
    body = json.load(source)
for url in ("/crash?token=" + body["token"], "/crash-api"):
    response = client.post(url, body, content_type="application/json", HTTP_X_API_KEY=body["token"])
    print(url.split("?")[0], response.status_code)
sentry_sdk.flush()
with open(sys.argv[2], "wb") as out:
    out.write(b"\n".join(envelopes))
'''

SECRETS = {
    "pin": "pin-canary-1111", "current_pin": "pin-canary-2222", "new_pin": "pin-canary-3333",
    "password": "password-canary-4444", "id_number": "idnumber-canary-5555", "bvn": "bvn-canary-6666",
    "nin": "nin-canary-7777", "otp": "otp-canary-8888", "account_number": "acct-canary-9999",
    "token": "token-canary-0000",
}


def test_sentry_events_carry_no_request_body_and_no_secret(tmp_path):
    """An unhandled error in a request whose body holds a PIN and an ID number reaches Sentry
    without either, in a plain Django view and in an API view."""
    import json

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    out, body = tmp_path / "envelopes", tmp_path / "body.json"
    body.write_text(json.dumps(SECRETS))
    result = subprocess.run(
        [sys.executable, "-c", CAPTURE, str(body), str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings_test",
                          "SENTRY_DSN": "http://public@127.0.0.1:9/1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/crash 500" in result.stdout and "/crash-api 500" in result.stdout, result.stdout
    sent = out.read_bytes().decode()
    assert "plain view failed" in sent and "api view failed" in sent  # both errors were reported
    leaked = [name for name, value in SECRETS.items() if value in sent]
    assert leaked == []
