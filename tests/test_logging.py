"""Log lines: JSON from every process (web, Celery worker and beat), the request id on every
line of a request, secrets masked whatever the format."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import include, path

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).parent / "celery")


def _entrypoint_command(role: str) -> list[str]:
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), role],
        env={"PATH": os.environ["PATH"], "DRY_RUN": "1"}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout.strip().splitlines()[-1].removeprefix("exec "))


def _run_until(command: list[str], *, env: dict[str, str], log: Path, marker: str, within: float = 60) -> str:
    """Start `command`, wait (bounded) until its output contains `marker`, stop it, return the output."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + within
            while marker not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # polling a condition with a bound
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return log.read_text()


def _celery_env(tmp_path: Path) -> dict[str, str]:
    run_dir = tmp_path / "run"
    for folder in ("broker", "broker-processed", "control"):
        (run_dir / folder).mkdir(parents=True)
    return {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "DEBUG": "true", "LOG_FORMAT": "json", "RUN_DIR": str(run_dir),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CELERY_BROKER_URL": "filesystem://",
        # Celery warns on stderr, before any logging is set up, when started as root; the image
        # runs as the unprivileged `vtu` user, so production never sees it. Tests here run as root.
        **({"PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges"} if os.geteuid() == 0 else {}),
    }


def _non_json_lines(output: str) -> list[str]:
    bad = []
    for line in output.splitlines():
        # Celery's signal handler prints this one line on stdout itself, after logging stopped.
        if not line.strip() or line.startswith("worker: Warm shutdown"):
            continue
        try:
            json.loads(line)
        except ValueError:
            bad.append(line)
    return bad


def test_celery_worker_logs_json_lines(tmp_path):
    command = _entrypoint_command("worker")
    command[0] = CELERY
    command[command.index("-c") + 1] = "1"
    output = _run_until(command, env=_celery_env(tmp_path), log=tmp_path / "worker.log", marker="ready.")
    assert "ready." in output, output[-3000:]
    assert _non_json_lines(output) == []
    ready = next(json.loads(line) for line in output.splitlines() if "ready." in line)
    assert ready["level"] == "info" and ready["logger"].startswith("celery")


def test_celery_beat_logs_json_lines(tmp_path):
    command = _entrypoint_command("beat")
    command[0] = CELERY
    # The entrypoint's database scheduler needs a migrated database; the logging is the same.
    at = next(i for i, arg in enumerate(command) if arg.startswith("--scheduler"))
    command[at:at + 2] = ["--scheduler", "celery.beat:PersistentScheduler", "-s", str(tmp_path / "schedule")]
    output = _run_until(command, env=_celery_env(tmp_path), log=tmp_path / "beat.log", marker="Starting")
    assert "Starting" in output, output[-3000:]
    assert _non_json_lines(output) == []


def test_celery_setup_logging_keeps_our_formatter():
    """In-process: the receiver is connected, so Celery's own root-logger set-up never runs."""
    import logging

    import structlog
    from celery import signals

    from config.celery import _keep_our_logging

    assert _keep_our_logging in [ref() for _, ref in signals.setup_logging.receivers]
    _keep_our_logging()
    formatters = [h.formatter for h in logging.getLogger().handlers]
    assert any(isinstance(f, structlog.stdlib.ProcessorFormatter) for f in formatters)


# --- the request id on every line of a request ----------------------------------------------------


def _plain_django_crash(request):
    raise RuntimeError("a plain Django view failed")


def _logged_lines(log_output) -> list[dict]:
    return [json.loads(line) for line in log_output.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
@pytest.mark.urls("tests.test_logging")
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/no-such-thing", None, 404),
        ("get", "/no-such-page", None, 404),
        ("post", "/api/v1/auth/login", {"email": ["not", "a", "string"]}, 400),
        ("get", "/api/v1/auth/login", None, 405),
        ("get", "/api/v1/test/crash", None, 500),
        ("get", "/test/plain-crash", None, 500),
    ],
)
def test_every_log_line_of_a_failing_request_carries_its_request_id(log_output, method, path, body, status):
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    kwargs = {"format": "json"} if body is not None else {}
    response = getattr(client, method)(path, body, HTTP_X_REQUEST_ID="rid-every-line", **kwargs)
    assert response.status_code == status
    lines = _logged_lines(log_output)
    loggers = {line.get("logger") for line in lines}
    assert "django.request" in loggers, lines  # Django's own "Not Found" / "Bad Request" / "Internal Server Error"
    assert [line for line in lines if line.get("request_id") != "rid-every-line"] == []


@pytest.mark.django_db
def test_the_next_request_does_not_inherit_the_previous_request_id(client, log_output):
    import structlog

    client.get("/healthz", HTTP_X_REQUEST_ID="first-request")
    assert structlog.contextvars.get_contextvars() == {}  # cleared once the response was closed
    client.get("/healthz", HTTP_X_REQUEST_ID="second-request")
    second = [line for line in _logged_lines(log_output) if line.get("event") == "request"][-1]
    assert second["request_id"] == "second-request"


urlpatterns = [path("test/plain-crash", _plain_django_crash), path("", include("tests.urls"))]
handler404 = "config.views.handler404"
handler500 = "config.views.handler500"


# --- the development console masks secrets too ----------------------------------------------------


def test_console_format_masks_secrets_in_tracebacks():
    import io
    import logging

    import structlog

    from config.logs import build_logging

    formatter_config = build_logging(level="INFO", fmt="console")["formatters"]["structured"]
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=formatter_config["processors"], foreign_pre_chain=formatter_config["foreign_pre_chain"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    stdlib_logger = logging.getLogger("tests.console")
    stdlib_logger.addHandler(handler)
    stdlib_logger.propagate = False
    try:
        try:
            body = '{"pin": "local-canary-1357"}'  # a frame's local: never printed
            raise RuntimeError(f"provider said no to sk_live_consolecanary123 and Bearer consolebearer98765 {len(body)}")
        except RuntimeError:
            stdlib_logger.exception("stdlib_failure")
            structlog.get_logger("tests.console").exception("structlog_failure", api_key="console-key-canary")
    finally:
        stdlib_logger.removeHandler(handler)
        stdlib_logger.propagate = True
    logged = stream.getvalue()
    assert "stdlib_failure" in logged and "structlog_failure" in logged and "Traceback" in logged
    for canary in ("sk_live_consolecanary123", "consolebearer98765", "console-key-canary", "local-canary-1357"):
        assert canary not in logged, canary
