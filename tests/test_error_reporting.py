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
