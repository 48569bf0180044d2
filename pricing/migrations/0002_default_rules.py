"""Default pricing rules, so every product has a price from the first start (docs/pricing.md).

Data: cost + 10 % for customers, + 5 % for resellers, + 4 % for API partners. Airtime: face
value for customers, 1 % off for resellers, 1.5 % off for API partners (providers typically
sell airtime at 2-3 % off face value, so each keeps a margin). Staff change them in the admin
or through POST /api/v1/admin/pricing. Reversible: removes these rules if still present.
"""

from django.db import migrations

DEFAULTS = [
    # label, kind, audience, method, rate_bps
    ("Default: data, customers", "data", "customer", "percent", 1000),
    ("Default: data, resellers", "data", "reseller", "percent", 500),
    ("Default: data, API partners", "data", "api_partner", "percent", 400),
    ("Default: airtime, customers", "airtime", "customer", "discount", 0),
    ("Default: airtime, resellers", "airtime", "reseller", "discount", 100),
    ("Default: airtime, API partners", "airtime", "api_partner", "discount", 150),
]


def create_defaults(apps, schema_editor):
    PricingRule = apps.get_model("pricing", "PricingRule")
    for label, kind, audience, method, rate_bps in DEFAULTS:
        PricingRule.objects.get_or_create(
            kind=kind, network="", plan_type="", plan_code="", audience=audience, user=None,
            starts_at=None, ends_at=None,
            defaults={"label": label, "method": method, "rate_bps": rate_bps, "amount_kobo": None},
        )


def remove_defaults(apps, schema_editor):
    PricingRule = apps.get_model("pricing", "PricingRule")
    PricingRule.objects.filter(label__in=[row[0] for row in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("pricing", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
