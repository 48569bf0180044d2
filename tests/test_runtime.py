"""How the platform starts: production refusals, check --deploy, migrations, the SQLite
default that `make run` boots, and the container files (no Docker engine here)."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
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
        "KYC_IDENTITY_HMAC_KEY": secrets.token_urlsafe(32),
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
        ({"CALLBACK_ALLOW_PRIVATE_ADDRESSES": "true"}, "CALLBACK_ALLOW_PRIVATE_ADDRESSES"),
        ({"KYC_IDENTITY_HMAC_KEY": ""}, "KYC_IDENTITY_HMAC_KEY"),
        ({"KYC_IDENTITY_HMAC_KEY": "too-short"}, "KYC_IDENTITY_HMAC_KEY"),
        ({"SANDBOX_PROVIDER_ENABLED": "true"}, "VTU_PROVIDERS[sandbox] is a sandbox"),
        ({"SANDBOX_GATEWAY_ENABLED": "true"}, "PAYMENT_GATEWAYS[sandbox] is a sandbox"),
        ({"FLUTTERWAVE_SECRET_KEY": "FLWSECK_TEST-x", "FLUTTERWAVE_WEBHOOK_SECRET": ""},
         "PAYMENT_GATEWAYS[flutterwave]"),
        # Paystack signs webhooks with its secret key: an empty webhook secret means that key.
        ({"PAYSTACK_SECRET_KEY": "sk_test_x", "PAYSTACK_WEBHOOK_SECRET": ""}, None),
        ({"VTPASS_API_KEY": "k", "VTPASS_SECRET_KEY": "s", "VTPASS_PUBLIC_KEY": ""}, None),
        # Switched on explicitly: an empty secret is a refusal, not a silent "off".
        ({"VTPASS_ENABLED": "true", "VTPASS_API_KEY": "k", "VTPASS_SECRET_KEY": "s"},
         "VTU_PROVIDERS[vtpass] is switched on (VTPASS_ENABLED=true) but PUBLIC_KEY is empty"),
        ({"AMIGO_ENABLED": "true"}, "VTU_PROVIDERS[amigo] is switched on (AMIGO_ENABLED=true) but API_KEY is empty"),
        ({"PAYSTACK_ENABLED": "true"}, "PAYMENT_GATEWAYS[paystack] is switched on (PAYSTACK_ENABLED=true) but"),
        ({"CHAPA_ENABLED": "true", "CHAPA_SECRET_KEY": "k", "CHAPA_WEBHOOK_SECRET": "w"},
         "PAYMENT_GATEWAYS[chapa] is switched on (CHAPA_ENABLED=true) but its currency is not the wallet's"),
        ({"AMIGO_ENABLED": "false"}, None),
    ],
)
def test_process_refuses_to_start_on_unsafe_production_settings(overrides, message):
    result = _manage("check", env=_production_env(**overrides))
    if message is None:
        # A provider with part of its credentials, not switched on explicitly, is simply off; a
        # Paystack webhook secret defaults to its secret key.
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    assert "Refusing to start with DEBUG off" in result.stderr
    assert message in result.stderr


def test_reseller_development_settings_are_accepted_with_debug_on():
    """The switches production refuses are what local development needs (`make run`)."""
    result = _manage("check", env=_production_env(DEBUG="true", CALLBACK_ALLOW_PRIVATE_ADDRESSES="true",
                                                  KYC_IDENTITY_HMAC_KEY=""))
    assert result.returncode == 0, result.stderr


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
    # scripts/run checks the ledger once and seed_demo asks the sandbox for its float, so the
    # dashboard has both figures from the start (the periodic tasks run every 15 minutes).
    assert "python manage.py check_ledger" in (ROOT / "scripts" / "run").read_text()
    checked = _manage("check_ledger", env=env)
    assert checked.returncode == 0 and "ledger ok" in checked.stdout, checked.stdout + checked.stderr
    float_seen = _manage("shell", "-c", "from vtu.models import ProviderState; "
                         "s = ProviderState.objects.get(provider='sandbox'); "
                         "print(s.last_balance_kobo, s.balance_checked_at is not None)", env=env)
    balance, stamped = float_seen.stdout.strip().splitlines()[-1].split()
    assert int(balance) > 0 and stamped == "True", float_seen.stdout + float_seen.stderr
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
    assert set(services) == {"postgres", "redis", "web", "worker", "callbacks", "beat"}
    for name in ("web", "worker", "callbacks", "beat"):
        assert services[name]["build"] == "."
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    # Reseller callbacks on a worker of their own: a slow receiver never holds a provider worker.
    assert services["callbacks"]["command"] == ["worker"]
    assert services["callbacks"]["environment"]["CELERY_WORKER_QUEUES"] == "callbacks"
    assert "CELERY_WORKER_QUEUES" not in services["worker"]["environment"]
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
    worker = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), "worker"], env=_env(DRY_RUN="1"),
                            capture_output=True, text=True, timeout=30).stdout
    assert "-Q default,providers,webhooks,email" in worker  # no callbacks on the general worker
    procfile = (ROOT / "Procfile.dev").read_text()
    assert "-Q callbacks " in procfile and "webhooks,callbacks" not in procfile


def _entrypoint_command(role: str) -> list[str]:
    result = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), role], env=_env(DRY_RUN="1"),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout.strip().splitlines()[-1].removeprefix("exec "))


def _get_until_answered(url: str, *, within: float = 60) -> int:
    deadline, last_error = time.monotonic() + within, None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http on loopback
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError as exc:
            last_error = repr(exc)
            time.sleep(0.2)  # polling a condition with a bound
    raise AssertionError(f"no answer from {url} within {within} s: {last_error}")


def test_gunicorn_as_the_entrypoint_runs_it_never_logs_a_reset_token(tmp_path):
    """E-mail links carry tokens in the query string; an access log would write them down."""
    command = _entrypoint_command("web")
    assert command[0] == "gunicorn"
    assert not any(arg.startswith(("--access-log", "--log-config")) for arg in command)
    port = _free_port()
    command[0] = str(Path(PYTHON).parent / "gunicorn")
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    env = _env(DEBUG="true", LOG_FORMAT="json", HOME=str(tmp_path), RUN_DIR=str(tmp_path / "run"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    canary = "Ng.CANARYRESETTOKEN4711"
    with (tmp_path / "server.log").open("w") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            status = _get_until_answered(f"http://127.0.0.1:{port}/reset-password?token={canary}")
        finally:
            server.terminate()
            server.wait(timeout=20)
    logged = (tmp_path / "server.log").read_text()
    assert status == 200, logged[-2000:]
    assert '"path": "/reset-password"' in logged  # the app's own request line was written
    assert "CANARYRESETTOKEN" not in logged


def _dockerfile_collectstatic() -> tuple[dict[str, str], list[str]]:
    """The environment and command of the Dockerfile's collectstatic step, as written there."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    run = next(line for line in text.splitlines() if line.startswith("RUN ") and "collectstatic" in line)
    step = next(part for part in run.removeprefix("RUN ").split("&&") if "collectstatic" in part)
    words = shlex.split(step.split(">")[0])
    assignments = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    return assignments, words


def test_image_collects_static_files_under_production_settings(tmp_path):
    """Production serves static files through the manifest storage; built with DEBUG on, no
    manifest is written and every admin and Swagger page answers 500."""
    assignments, command = _dockerfile_collectstatic()
    assert assignments.get("DEBUG") == "false"
    assert command[:3] == ["python", "manage.py", "collectstatic"]
    env = _env(**{**assignments, "STATIC_ROOT": str(tmp_path / "static")})
    result = subprocess.run([PYTHON, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").stat().st_size > 0
    probe = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "client = Client(raise_request_exception=False)\n"
        "for path in ('/api/docs/', '/admin/login/'):\n"
        "    print(path, client.get(path, secure=True, HTTP_HOST='vtu.example.com').status_code)\n"
    )
    served = subprocess.run(
        [PYTHON, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**env, "ALLOWED_HOSTS": "vtu.example.com", "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert served.returncode == 0, served.stderr[-2000:]
    assert "/api/docs/ 200" in served.stdout and "/admin/login/ 200" in served.stdout, served.stdout


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("  ", None), ("true", True), ("false", False)])
def test_an_empty_enabled_switch_decides_by_credentials(monkeypatch, value, expected):
    """.env.example leaves <NAME>_ENABLED empty: copied as it is, it must not switch a gateway off."""
    from config import settings as configured

    if value is None:
        monkeypatch.delenv("PAYSTACK_ENABLED", raising=False)
    else:
        monkeypatch.setenv("PAYSTACK_ENABLED", value)
    assert configured._switch("PAYSTACK_ENABLED") is expected


def _scripts_run_with_fakes(tmp_path: Path, **env: str) -> dict[str, str]:
    """Run scripts/run from a copy of the tree's layout where `.venv/bin/python` and `honcho`
    are fakes: python does nothing, honcho prints what the processes would start with (the
    metrics directory and what is in it). Returns those lines as a dict."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run", tmp_path / "scripts" / "run")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "honcho").write_text(
        '#!/bin/sh\necho "dir=${PROMETHEUS_MULTIPROC_DIR:-}"\n'
        'echo "files=$(ls -A "${PROMETHEUS_MULTIPROC_DIR:-/nonexistent}" 2>/dev/null | tr "\\n" " ")"\n'
    )
    for fake in bin_dir.iterdir():
        fake.chmod(0o755)
    result = subprocess.run(["bash", str(tmp_path / "scripts" / "run")], env=_env(**env), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith(("dir=", "files=")))


def test_make_run_shares_an_emptied_metrics_directory_between_its_processes(tmp_path):
    stale = tmp_path / ".run" / "metrics"
    stale.mkdir(parents=True)
    (stale / "counter_1234.db").write_text("from an earlier run")
    seen = _scripts_run_with_fakes(tmp_path)
    assert seen["dir"] == str(tmp_path / ".run" / "metrics")
    assert seen["files"].strip() == ""  # an earlier run's samples are gone before anything starts


def test_make_run_never_empties_a_metrics_directory_set_by_the_user(tmp_path):
    own = tmp_path / "my-metrics"
    own.mkdir()
    (own / "counter_1.db").write_text("keep")
    seen = _scripts_run_with_fakes(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(own))
    assert seen["dir"] == str(own)
    assert seen["files"].strip() == "counter_1.db"
