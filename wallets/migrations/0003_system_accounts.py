"""Create the system accounts: one clearing account per payment gateway, one float account per
VTU provider, and the fixed platform accounts. `wallets.services.system_account(code)` also
creates a missing one on first use (a gateway or provider added later, a flushed test DB)."""

from django.conf import settings
from django.db import migrations

FIXED = ["revenue", "fees", "refunds", "receivables", "adjustments", "suspense", "bank"]


def codes() -> list[str]:
    return (
        [f"clearing:{name}" for name in settings.PAYMENT_GATEWAYS]
        + [f"float:{name}" for name in settings.VTU_PROVIDERS]
        + FIXED
    )


def create(apps, schema_editor):
    LedgerAccount = apps.get_model("wallets", "LedgerAccount")
    for code in codes():
        LedgerAccount.objects.get_or_create(
            code=code,
            defaults={
                "kind": "system",
                "currency": settings.WALLET_CURRENCY,
                "allow_negative": True,
                "materialised": False,
                "name": code,
            },
        )


def remove(apps, schema_editor):
    LedgerAccount = apps.get_model("wallets", "LedgerAccount")
    LedgerAccount.objects.filter(kind="system", code__in=codes(), entries__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("wallets", "0002_postgres_guards")]

    operations = [migrations.RunPython(create, remove)]
