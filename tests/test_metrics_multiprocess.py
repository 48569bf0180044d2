"""Metrics from Celery workers reach a scrape of the web (prometheus-client multiprocess mode).

Real processes: a "web" and a "worker" process each increment series in multiprocess mode,
each in its own subdirectory of PROMETHEUS_MULTIPROC_ROOT (as docker/entrypoint.sh sets it
up per container, since pids repeat across containers), plus a second process in the worker's
directory; one scrape of /metrics from this process sees the sum of all three. And the
entrypoint empties only its own container's subdirectory, never another one's live files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_metrics import scrape, value

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import django
django.setup()
from celery import shared_task
from config import metrics

@shared_task(name="tests.multiprocess_fails")
def fails():
    raise RuntimeError("boom")

fails.apply(throw=False)  # through Celery's tracer: the task_failure signal counts it
metrics.PROVIDER_ERRORS.labels(provider="vtpass", kind="timeout").inc()
metrics.PROVIDER_CALL_SECONDS.labels(provider="vtpass", operation="buy", outcome="timeout").observe(0.7)
"""


def _child(directory: Path) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    env = {key: val for key, val in os.environ.items() if not key.startswith("PROMETHEUS_MULTIPROC")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings_test", PROMETHEUS_MULTIPROC_DIR=str(directory))
    return subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env, stderr=subprocess.PIPE)


def test_one_scrape_sums_the_web_and_worker_processes(tmp_path, monkeypatch):
    children = [_child(tmp_path / "web-host1"), _child(tmp_path / "worker-host2"), _child(tmp_path / "worker-host2")]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read().decode()[-2000:]
    assert len(list((tmp_path / "worker-host2").glob("counter_*.db"))) == 2  # one file per process

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_ROOT", str(tmp_path))
    samples = scrape()
    assert value(samples, "celery_task_failures_total", task="tests.multiprocess_fails") == 3
    assert value(samples, "vtu_provider_errors_total", provider="vtpass", kind="timeout") == 3
    assert value(samples, "vtu_provider_call_seconds_count", provider="vtpass", operation="buy", outcome="timeout") == 3
    assert value(samples, "vtu_provider_call_seconds_bucket", provider="vtpass", operation="buy", outcome="timeout",
                 le="1.0") == 3
    assert value(samples, "vtu_purchase_oldest_open_age_seconds") == 0  # the database gauges are still there


def test_without_multiprocess_mode_the_scrape_is_this_process(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_ROOT", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    from config import metrics
    from config.observability import multiprocess_files

    assert multiprocess_files() is None
    before = value(scrape(), "vtu_provider_errors_total", provider="in-process", kind="timeout")
    metrics.PROVIDER_ERRORS.labels(provider="in-process", kind="timeout").inc()
    assert value(scrape(), "vtu_provider_errors_total", provider="in-process", kind="timeout") == before + 1


@pytest.mark.parametrize("role", ["web", "worker"])
def test_entrypoint_empties_only_its_own_containers_directory(tmp_path, role):
    here = socket.gethostname()
    own, other_role, other_host = tmp_path / f"{role}-{here}", tmp_path / f"beat-{here}", tmp_path / f"{role}-otherhost"
    for directory in (own, other_role, other_host):
        directory.mkdir()
        (directory / "counter_7.db").write_bytes(b"x")
    env = {**os.environ, "DRY_RUN": "1", "PROMETHEUS_MULTIPROC_ROOT": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""}
    result = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), role], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert f"PROMETHEUS_MULTIPROC_DIR={own}" in result.stdout.splitlines()
    assert not (own / "counter_7.db").exists()  # this container's files from its previous life
    assert (other_role / "counter_7.db").exists() and (other_host / "counter_7.db").exists()  # live elsewhere


def test_compose_shares_one_metrics_volume_between_web_and_workers():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"
    for name in ("web", "worker", "beat"):
        service = compose["services"][name]
        root = service["environment"]["PROMETHEUS_MULTIPROC_ROOT"]
        assert f"metrics:{root}" in service["volumes"]
        assert "PROMETHEUS_MULTIPROC_DIR" not in service["environment"]  # per container, by the entrypoint
