"""Bank references: one spelling, and a rejected request no longer burns its reference.

- The column's UNIQUE becomes a partial UNIQUE over adjustments that are not rejected.
- Existing references are rewritten to the normalised spelling the service now stores
  (upper case; spaces, hyphens, underscores, slashes and dots removed), so "GTB-1" credited
  before this migration still refuses a new "gtb 1". A legacy reference with other
  characters is left as it was. The journal keys already posted (bankfund:<as typed>) are
  history and stay unchanged.
- If two adjustments that are not rejected normalise to the same reference, that bank
  transfer was probably credited twice: the migration stops and names them (investigate,
  then correct by adjustment and reject or rename one; never silently merged here).

Reverse: back to a plain UNIQUE column (the normalised spellings stay); it stops, naming
them, if a reference was reused after a rejection.
"""

import re
import unicodedata
from collections import defaultdict

from django.conf import settings
from django.db import migrations, models

IGNORED = re.compile(r"[\s\-_/.]+")
VALID = re.compile(r"^[A-Z0-9]{1,100}$")


def _normalised(value):
    text = IGNORED.sub("", unicodedata.normalize("NFKC", value).strip()).upper()
    return text if VALID.match(text) else value


def normalise_references(apps, schema_editor):
    Adjustment = apps.get_model("wallets", "Adjustment")
    rows = list(Adjustment.objects.exclude(bank_reference=None).values_list("pk", "bank_reference", "status"))
    holders = defaultdict(list)
    for pk, reference, status in rows:
        if status != "rejected":
            holders[_normalised(reference)].append(pk)
    clashes = {reference: ids for reference, ids in holders.items() if len(ids) > 1}
    if clashes:
        raise RuntimeError(f"adjustments sharing one bank reference once normalised (a double credit?): {clashes}")
    for pk, reference, _status in rows:
        if _normalised(reference) != reference:
            Adjustment.objects.filter(pk=pk).update(bank_reference=_normalised(reference))


def refuse_reused_references(apps, schema_editor):
    Adjustment = apps.get_model("wallets", "Adjustment")
    reused = (
        Adjustment.objects.exclude(bank_reference=None).values("bank_reference")
        .annotate(n=models.Count("pk")).filter(n__gt=1).values_list("bank_reference", flat=True)
    )
    if reused:
        raise RuntimeError(f"bank references used again after a rejection, cannot be made plainly UNIQUE: {list(reused)}")


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0006_customer_wallet_never_negative'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='adjustment',
            name='bank_reference',
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.RunPython(normalise_references, refuse_reused_references),
        migrations.AddConstraint(
            model_name='adjustment',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'rejected'), _negated=True), fields=('bank_reference',), name='adjustment_bank_reference_unique_unless_rejected'),
        ),
    ]
