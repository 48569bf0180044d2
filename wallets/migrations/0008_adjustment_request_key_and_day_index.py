"""Staff adjustments: one request posts once, and a wallet's day of adjustments is cheap to read.

- `request_key`: the console form's one-time token (`form:<token>`) or the API's
  Idempotency-Key (`api:<key>`), UNIQUE per requester where set, so a resubmitted form or a
  retried call finds the first adjustment instead of posting a second. Existing rows keep
  NULL (they answered no recorded request).
- `adjustment_account_created_idx` (account, created_at): the duplicate guard and the
  per-wallet day total read one wallet's recent adjustments under its row lock. It replaces
  the plain index on `account_id`, which it covers (built first, so no moment without one).

Reversible: the reverse drops the key and the index and restores the plain one.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("wallets", "0007_bank_reference_normalised_unique_unless_rejected"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="adjustment",
            name="request_key",
            field=models.CharField(blank=True, editable=False, max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name="adjustment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("request_key__isnull", False)), fields=("requested_by", "request_key"),
                name="adjustment_request_key_unique_per_staff",
            ),
        ),
        migrations.AddIndex(
            model_name="adjustment",
            index=models.Index(fields=["account", "created_at"], name="adjustment_account_created_idx"),
        ),
        migrations.AlterField(
            model_name="adjustment",
            name="account",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="adjustments",
                to="wallets.ledgeraccount",
            ),
        ),
    ]
