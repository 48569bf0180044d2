"""Operations scripts: `manage.py seed_smoke_account` (the production smoke account, DEBUG
off) and scripts/smoke logging in with it against a live server (moves no money), and
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
SMOKE_PASSWORD = "smoke-Pass-8213-xq"


def _dsn(name: str, password: str = "") -> str:
    settings = connection.settings_dict
    user = f"{settings['USER']}:{password}" if password else settings["USER"]
    return f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"


PG_PASSWORD = "pw-visible-in-ps-9271"  # the test server trusts loopback, so any password works
SHIM = """#!/bin/sh
printf '%s argv=%s PGPASSWORD=%s\n' "$(basename "$0")" "$*" "${PGPASSWORD:-}" >> "$SHIM_LOG"
exec __REAL__ "$@"
"""


def _pg_shims(bin_dir: Path) -> Path:
    """pg_dump, psql and pg_restore wrappers that log their argv and PGPASSWORD, then run the
    real tool: the proof that the password travels in the environment, not on the command line."""
    import shutil

    bin_dir.mkdir()
    for tool in ("pg_dump", "psql", "pg_restore"):
        shim = bin_dir / tool
        shim.write_text(SHIM.replace("__REAL__", shutil.which(tool)))
        shim.chmod(0o755)
    return bin_dir / "calls.log"


def _seed_smoke(email: str, **env: str):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, val in env.items():
            patch.setenv(name, val)
        call_command("seed_smoke_account", "--email", email, "--no-input", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_smoke_checks_a_live_server_without_moving_money(live_server, world, settings):  # noqa: F811
    from vtu.models import DataPlan, Network, ProviderPlan, Purchase, Route
    from wallets.models import Journal

    reseed_catalogue()
    price_rules()
    Route.objects.create(network=Network.objects.get(code="MTN"), product="data", provider="alpha", priority=1)
    ProviderPlan.objects.create(provider="alpha", plan=DataPlan.objects.get(code="MTN_1GB_30D"),
                                provider_plan_id="A-1", cost_kobo=26_000)
    settings.DEBUG = False
    _seed_smoke("prod-smoke@example.com", SMOKE_PASSWORD=SMOKE_PASSWORD)  # as in production (runbook)
    journals = Journal.objects.count()
    result = subprocess.run(
        [str(ROOT / "scripts" / "smoke"), "--base-url", live_server.url, "--email", "prod-smoke@example.com"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SMOKE_PASSWORD": SMOKE_PASSWORD},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    for check in ("/healthz", "/readyz", "/api/schema/", "auth/login", "wallet/me", "data/plans"):
        assert check in result.stdout
    assert Journal.objects.count() == journals and not Purchase.objects.exists()  # nothing moved

    wrong = subprocess.run(
        [str(ROOT / "scripts" / "smoke"), "--base-url", live_server.url, "--email", "prod-smoke@example.com",
         "--password", "nope"],
        capture_output=True, text=True, timeout=120,
    )
    assert wrong.returncode == 1 and "FAIL POST /api/v1/auth/login" in wrong.stdout


def test_pg_env_turns_a_url_into_libpq_variables_without_argv():
    url = "postgresql://u%40x:p%20w'q@%2Fvar%2Frun%2Fpostgresql:6432/my%20db?sslmode=require"
    done = subprocess.run(["python3", str(ROOT / "scripts" / "pg_env.py")], env={**os.environ, "PG_URL": url},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    shell = subprocess.run(["bash", "-c", done.stdout + 'printf "%s|" "$PGHOST" "$PGPORT" "$PGUSER" "$PGPASSWORD" '
                            '"$PGDATABASE" "$PGSSLMODE"'], capture_output=True, text=True, timeout=30)
    assert shell.stdout == "/var/run/postgresql|6432|u@x|p w'q|my db|require|"
    for bad in ("mysql://root@db/x", "postgres://u@h/db?sslmode=require&weird=1"):
        refused = subprocess.run(["python3", str(ROOT / "scripts" / "pg_env.py")], env={**os.environ, "PG_URL": bad},
                                 capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2 and not refused.stdout


@pytest.mark.django_db
def test_seed_smoke_account_is_idempotent_needs_debug_off_only_and_never_shows_the_password(settings, caplog):
    from accounts.models import User
    from audit.models import AuditLog
    from wallets.models import LedgerAccount

    settings.DEBUG = False
    first = _seed_smoke("Prod-Smoke@Example.com", SMOKE_PASSWORD=SMOKE_PASSWORD)
    user = User.objects.get(email="prod-smoke@example.com")
    assert "created" in first and SMOKE_PASSWORD not in first
    assert (user.email_verified, user.is_active, user.kyc_tier, user.role, user.is_staff, user.pin_set) == (
        True, True, 0, "customer", False, False)
    assert user.check_password(SMOKE_PASSWORD)
    wallet = LedgerAccount.objects.get(user=user, kind="customer")
    assert (wallet.balance_kobo, wallet.held_kobo) == (0, 0)

    User.objects.filter(pk=user.pk).update(suspended_at=user.date_joined, pin_hash="x" * 64)  # drifted since
    second = _seed_smoke("prod-smoke@example.com", SMOKE_PASSWORD=SMOKE_PASSWORD + "-rotated")
    assert "already there" in second
    user.refresh_from_db()
    assert User.objects.filter(email__iexact="prod-smoke@example.com").count() == 1
    assert user.check_password(SMOKE_PASSWORD + "-rotated") and not user.is_suspended and not user.pin_set
    assert LedgerAccount.objects.filter(user=user).count() == 1
    assert set(AuditLog.objects.filter(target_id=str(user.pk)).values_list("action", flat=True)) == {
        "user.register", "user.update"}
    assert SMOKE_PASSWORD not in caplog.text and SMOKE_PASSWORD not in str(list(AuditLog.objects.values()))


@pytest.mark.django_db
def test_seed_smoke_account_refuses_real_accounts_weak_passwords_and_no_password(settings, monkeypatch):
    from django.core.management.base import CommandError

    from accounts.tests.factories import UserFactory
    from wallets.tests.factories import fund_wallet

    settings.DEBUG = False
    staff, reseller = UserFactory(is_staff=True), UserFactory(role="reseller")
    funded, verified = UserFactory(), UserFactory(kyc_tier=1)
    fund_wallet(funded, 100)
    for user, why in ((staff, "staff or reseller"), (reseller, "staff or reseller"), (funded, "holds money"),
                      (verified, "KYC tier 1")):
        with pytest.raises(CommandError, match=why):
            _seed_smoke(user.email, SMOKE_PASSWORD=SMOKE_PASSWORD)
        user.refresh_from_db()
        assert not user.check_password(SMOKE_PASSWORD)
    with pytest.raises(CommandError, match="password was refused"):
        _seed_smoke("new-smoke@example.com", SMOKE_PASSWORD="12345678")
    monkeypatch.delenv("SMOKE_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="Set SMOKE_PASSWORD"):
        _seed_smoke("new-smoke@example.com")
    from accounts.models import User

    assert not User.objects.filter(email="new-smoke@example.com").exists()


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
    calls = _pg_shims(tmp_path / "bin")
    path = f"{tmp_path / 'bin'}:{os.environ['PATH']}"
    env = {**os.environ, "DATABASE_URL": _dsn(connection.settings_dict["NAME"], PG_PASSWORD), "PATH": path,
           "SHIM_LOG": str(calls)}
    backup = subprocess.run([str(ROOT / "scripts" / "backup"), str(dump)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0

    target = f"test_vtu_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}"')
    try:
        restore_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PATH": path,
                       "SHIM_LOG": str(calls), "PYTHON": str(ROOT / ".venv/bin/python"),
                       "TARGET_DATABASE_URL": _dsn(target, PG_PASSWORD)}
        restore = subprocess.run([str(ROOT / "scripts" / "restore"), str(dump)], capture_output=True,
                                 text=True, timeout=600, env=restore_env)
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert "ledger check passed" in restore.stdout and PG_PASSWORD not in restore.stdout + restore.stderr
        with psycopg.connect(_dsn(target)) as restored:
            assert restored.execute("SELECT count(*) FROM wallets_journal").fetchone()[0] == journals
            assert restored.execute(
                "SELECT ok FROM wallets_ledgercheck ORDER BY id DESC LIMIT 1").fetchone()[0] is True
        again = subprocess.run([str(ROOT / "scripts" / "restore"), str(dump), _dsn(target, PG_PASSWORD)], capture_output=True,
                               text=True, timeout=120, env=restore_env)
        assert again.returncode == 2 and "only into an empty database" in again.stderr
        logged = calls.read_text().splitlines()
        assert {line.split()[0] for line in logged} == {"pg_dump", "psql", "pg_restore"}
        for line in logged:  # every tool got the password, none on its command line
            argv, password = line.split(" PGPASSWORD=")
            assert PG_PASSWORD not in argv and password == PG_PASSWORD, line
    finally:
        with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
