"""A customer wallet can never be allowed a negative available balance.

Before: `CHECK (allow_negative OR balance_kobo >= held_kobo)` and nothing stopped
allow_negative = true on a customer row, so one flag switched the rule off. After: the
available-balance CHECK is keyed on the kind (`kind = 'system' OR balance_kobo >= held_kobo`)
and the kind-shape CHECK requires allow_negative = false on customer wallets.

A database holding a customer wallet that breaks either rule stops here with the ids named:
that is a finding for people (docs/runbook.md "Ledger check failure"), never something a migration
silently repairs. Reversible: the reverse restores the old constraints.
"""

from django.conf import settings
from django.db import migrations, models


def refuse_bad_customer_rows(apps, schema_editor):
    LedgerAccount = apps.get_model("wallets", "LedgerAccount")
    customers = LedgerAccount.objects.filter(kind="customer")
    flagged = list(customers.filter(allow_negative=True).values_list("pk", flat=True)[:20])
    short = list(customers.filter(balance_kobo__lt=models.F("held_kobo")).values_list("pk", flat=True)[:20])
    if flagged or short:
        raise RuntimeError(
            f"customer wallets flagged allow_negative: {flagged}; with balance below held: {short}. "
            "Investigate and correct them by adjustment before migrating."
        )


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0005_slimmer_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(refuse_bad_customer_rows, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='ledgeraccount',
            name='ledgeraccount_available_nonnegative',
        ),
        migrations.RemoveConstraint(
            model_name='ledgeraccount',
            name='ledgeraccount_kind_shape',
        ),
        migrations.AddConstraint(
            model_name='ledgeraccount',
            constraint=models.CheckConstraint(condition=models.Q(('kind', 'system'), ('balance_kobo__gte', models.F('held_kobo')), _connector='OR'), name='ledgeraccount_customer_available_nonnegative'),
        ),
        migrations.AddConstraint(
            model_name='ledgeraccount',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('allow_negative', False), ('kind', 'customer'), ('materialised', True), ('number__isnull', False), ('user__isnull', False)), models.Q(('kind', 'system'), ('user__isnull', True)), _connector='OR'), name='ledgeraccount_kind_shape'),
        ),
    ]
