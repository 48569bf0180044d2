"""Operations scripts: scripts/smoke against a live server (moves no money), and
scripts/backup + scripts/restore into an empty database that then passes the ledger check."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from vtu.tests.conftest import _no_catalogue_cache, price_rules, reseed_catalogue, world  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[1]


def _dsn(name: str) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"


@pytest.mark.django_db(transaction=True)
def test_smoke_checks_a_live_server_without_moving_money(live_server, world):  # noqa: F811
    from accounts.tests.factories import PASSWORD, UserFactory
    from vtu.models import DataPlan, Network, ProviderPlan, Purchase, Route
    from wallets.models import Journal

    reseed_catalogue()
    price_rules()
    Route.objects.create(network=Network.objects.get(code="MTN"), product="data", provider="alpha", priority=1)
    ProviderPlan.objects.create(provider="alpha", plan=DataPlan.objects.get(code="MTN_1GB_30D"),
                                provider_plan_id="A-1", cost_kobo=26_000)
    user = UserFactory(email="smoke@example.com")
    journals = Journal.objects.count()
    result = subprocess.run(
        [str(ROOT / "scripts" / "smoke"), "--base-url", live_server.url, "--email", user.email, "--password", PASSWORD],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    for check in ("/healthz", "/readyz", "/api/schema/", "auth/login", "wallet/me", "data/plans"):
        assert check in result.stdout
    assert Journal.objects.count() == journals and not Purchase.objects.exists()  # nothing moved

    wrong = subprocess.run(
        [str(ROOT / "scripts" / "smoke"), "--base-url", live_server.url, "--email", user.email, "--password", "nope"],
        capture_output=True, text=True, timeout=120,
    )
    assert wrong.returncode == 1 and "FAIL POST /api/v1/auth/login" in wrong.stdout


@pytest.mark.django_db(transaction=True)
def test_backup_restores_into_an_empty_database_and_passes_the_ledger_check(tmp_path):
    from accounts.tests.factories import UserFactory
    from wallets.models import Journal
    from wallets.services import limits_for_tier, wallet_transfer
    from wallets.tests.factories import fund_wallet

    alice, bob = UserFactory(kyc_tier=2), UserFactory(kyc_tier=2)
    fund_wallet(alice, 500_000)
    wallet_transfer(sender_user_id=alice.pk, recipient_user_id=bob.pk, amount_kobo=120_000,
                    idempotency_key="backup-test", limits=limits_for_tier(2))
    journals = Journal.objects.count()
    dump = tmp_path / "vtu.dump"
    env = {**os.environ, "DATABASE_URL": _dsn(connection.settings_dict["NAME"])}
    backup = subprocess.run([str(ROOT / "scripts" / "backup"), str(dump)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0

    target = f"test_vtu_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}"')
    try:
        restore_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHON": str(ROOT / ".venv/bin/python")}
        restore = subprocess.run([str(ROOT / "scripts" / "restore"), str(dump), _dsn(target)], capture_output=True,
                                 text=True, timeout=600, env=restore_env)
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert "ledger check passed" in restore.stdout
        with psycopg.connect(_dsn(target)) as restored:
            assert restored.execute("SELECT count(*) FROM wallets_journal").fetchone()[0] == journals
            assert restored.execute(
                "SELECT ok FROM wallets_ledgercheck ORDER BY id DESC LIMIT 1").fetchone()[0] is True
        again = subprocess.run([str(ROOT / "scripts" / "restore"), str(dump), _dsn(target)], capture_output=True,
                               text=True, timeout=120, env=restore_env)
        assert again.returncode == 2 and "only into an empty database" in again.stderr
    finally:
        with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
