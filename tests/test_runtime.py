"""How the platform starts: production refusals, check --deploy, migrations, the SQLite
default that `make run` boots, and the container files (no Docker engine here)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _env(**overrides: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    env.update(overrides)
    return env


def _production_env(**overrides: str) -> dict[str, str]:
    values = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PIN_PEPPER": secrets.token_urlsafe(24),
        "ALLOWED_HOSTS": "vtu.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    }
    values.update(overrides)
    return _env(**values)


def _manage(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "insecure-dev-key-change-me"}, "SECRET_KEY"),
        ({"PIN_PEPPER": ""}, "PIN_PEPPER"),
        ({"SANDBOX_PROVIDER_ENABLED": "true"}, "VTU_PROVIDERS[sandbox] is a sandbox"),
        ({"SANDBOX_GATEWAY_ENABLED": "true"}, "PAYMENT_GATEWAYS[sandbox] is a sandbox"),
        ({"FLUTTERWAVE_SECRET_KEY": "FLWSECK_TEST-x", "FLUTTERWAVE_WEBHOOK_SECRET": ""},
         "PAYMENT_GATEWAYS[flutterwave]"),
        # Paystack signs webhooks with its secret key: an empty webhook secret means that key.
        ({"PAYSTACK_SECRET_KEY": "sk_test_x", "PAYSTACK_WEBHOOK_SECRET": ""}, None),
        ({"VTPASS_API_KEY": "k", "VTPASS_SECRET_KEY": "s", "VTPASS_PUBLIC_KEY": ""}, None),
    ],
)
def test_process_refuses_to_start_on_unsafe_production_settings(overrides, message):
    result = _manage("check", env=_production_env(**overrides))
    if message is None:
        # A provider with part of its credentials is simply disabled, not a refusal; a
        # Paystack webhook secret defaults to its secret key.
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    assert "Refusing to start with DEBUG off" in result.stderr
    assert message in result.stderr


def test_no_missing_migrations():
    result = _manage("makemigrations", "--check", "--dry-run", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_apply_to_an_empty_database_and_reverse():
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vtu").rsplit("/", 1)[0]
    name = f"vtu_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = _env(DEBUG="true", DATABASE_URL=f"{base}/{name}")
        forward = _manage("migrate", "--noinput", env=env, timeout=300)
        assert forward.returncode == 0, forward.stdout + forward.stderr
        for app in ("backoffice", "payments", "vtu", "pricing", "wallets", "accounts", "audit", "platform"):
            back = _manage("migrate", app, "zero", "--noinput", env=env, timeout=300)
            assert back.returncode == 0, f"{app}: {back.stdout}{back.stderr}"
        again = _manage("migrate", "--noinput", env=env, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sqlite_default_boots_like_make_run_and_is_ready(tmp_path):
    env = _env(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        RUN_DIR=str(tmp_path / "run"),
        SANDBOX_PROVIDER_ENABLED="true",
        SANDBOX_GATEWAY_ENABLED="true",
    )
    for args in (("migrate", "--noinput"), ("seed_demo",), ("schedule_install",)):
        result = _manage(*args, env=env, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "demo@example.com" in _manage("seed_demo", env=env).stdout  # idempotent
    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        body, last_error = None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    body = response.read().decode()
            except urllib.error.HTTPError as exc:
                last_error = f"{exc.code} {exc.read()[:300]!r}"
                time.sleep(0.2)  # polling a condition with a bound, not waiting for a guess
            except OSError as exc:
                last_error = repr(exc)
                time.sleep(0.2)
        assert body is not None, f"the server did not answer /readyz within 60 s: {last_error}"
        assert '"status": "ready"' in body
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_seed_demo_is_refused_with_debug_off():
    result = _manage("seed_demo", env=_production_env())
    assert result.returncode != 0
    assert "Refusing to load demo data with DEBUG off" in result.stderr


def test_compose_file_has_the_services_and_migrates_before_web():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        assert services[name]["build"] == "."
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER vtu" in dockerfile and "slim" in dockerfile


def test_entrypoint_runs_outside_docker_and_migrates_before_gunicorn():
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), "web"],
        env=_env(DRY_RUN="1"), capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "python manage.py migrate --noinput"
    assert lines[-1].startswith("exec gunicorn config.wsgi:application")
    for role in ("worker", "beat"):
        out = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), role], env=_env(DRY_RUN="1"),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "celery -A config" in out.stdout
