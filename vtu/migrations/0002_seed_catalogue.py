"""Seed the four networks (prefixes from libphonenumber 9.0.43's carrier data) and a
realistic data plan catalogue. Provider plan ids and costs are not seeded: they come from
each provider's plan list (vtu.tasks.plans_sync) because they change (vtu-providers §2.1).
Reversible: the rows are deleted by code when nothing refers to them."""

from django.db import migrations

NETWORKS = [
    # code, name, prefixes, sort order
    ("MTN", "MTN", "0703 0704 0706 0707 0803 0806 0810 0813 0814 0816 0903 0906 0910 0913 0916 07025 07026", 1),
    ("AIRTEL", "Airtel", "0701 0708 0802 0808 0812 0901 0902 0904 0907 0911 0912", 2),
    ("GLO", "Glo", "0705 0805 0807 0811 0815 0905 0915", 3),
    ("9MOBILE", "9mobile", "0809 0817 0818 0908 0909", 4),
]

# network, plan type, size in MB, validity in days
PLANS = [
    ("MTN", "sme", 500, 30), ("MTN", "sme", 1024, 30), ("MTN", "sme", 2048, 30), ("MTN", "sme", 3072, 30),
    ("MTN", "sme", 5120, 30), ("MTN", "sme", 10240, 30),
    ("MTN", "gifting", 1024, 1), ("MTN", "gifting", 1536, 7), ("MTN", "gifting", 6144, 7),
    ("MTN", "gifting", 20480, 30), ("MTN", "gifting", 76800, 30),
    ("MTN", "corporate", 500, 30), ("MTN", "corporate", 1024, 30), ("MTN", "corporate", 2048, 30),
    ("MTN", "corporate", 5120, 30),
    ("AIRTEL", "corporate", 500, 30), ("AIRTEL", "corporate", 1024, 30), ("AIRTEL", "corporate", 2048, 30),
    ("AIRTEL", "corporate", 5120, 30), ("AIRTEL", "corporate", 10240, 30),
    ("AIRTEL", "gifting", 1536, 30), ("AIRTEL", "gifting", 3072, 30), ("AIRTEL", "gifting", 10240, 30),
    ("GLO", "corporate", 500, 30), ("GLO", "corporate", 1024, 30), ("GLO", "corporate", 2048, 30),
    ("GLO", "corporate", 3072, 30), ("GLO", "corporate", 5120, 30), ("GLO", "corporate", 10240, 30),
    ("GLO", "gifting", 2970, 30), ("GLO", "gifting", 5939, 30),
    ("9MOBILE", "corporate", 500, 30), ("9MOBILE", "corporate", 1024, 30), ("9MOBILE", "corporate", 2048, 30),
    ("9MOBILE", "corporate", 5120, 30),
    ("9MOBILE", "gifting", 1536, 30), ("9MOBILE", "gifting", 4608, 30),
]

SUFFIX = {"sme": "", "gifting": "_GIFT", "corporate": "_CG"}
TYPE_LABEL = {"sme": "SME", "gifting": "Gifting", "corporate": "Corporate gifting"}


def size_label(size_mb):
    if size_mb < 1024:
        return f"{size_mb}MB"
    gigabytes = size_mb / 1024
    text = f"{gigabytes:.2f}".rstrip("0").rstrip(".")
    return f"{text}GB"


def plan_code(network, plan_type, size_mb, validity):
    return f"{network}_{size_label(size_mb).replace('.', '_')}_{validity}D{SUFFIX[plan_type]}"


def seed(apps, schema_editor):
    Network = apps.get_model("vtu", "Network")
    DataPlan = apps.get_model("vtu", "DataPlan")
    networks = {}
    for code, name, prefixes, order in NETWORKS:
        networks[code], _ = Network.objects.get_or_create(
            code=code, defaults={"name": name, "prefixes": prefixes.split(), "sort_order": order}
        )
    for network, plan_type, size_mb, validity in PLANS:
        days = "1 day" if validity == 1 else f"{validity} days"
        DataPlan.objects.get_or_create(
            code=plan_code(network, plan_type, size_mb, validity),
            defaults={
                "network": networks[network],
                "name": f"{networks[network].name} {size_label(size_mb)} {TYPE_LABEL[plan_type]} ({days})",
                "size_mb": size_mb,
                "validity_days": validity,
                "plan_type": plan_type,
            },
        )


def unseed(apps, schema_editor):
    """Delete the seeded rows nothing refers to. Plain SQL: the ORM's delete collector trips
    over the historical models of this app's PROTECT relations."""
    codes = [plan_code(*plan) for plan in PLANS]
    networks = [network[0] for network in NETWORKS]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM vtu_dataplan WHERE code IN (%s)" % ", ".join(["%s"] * len(codes))
            + " AND id NOT IN (SELECT plan_id FROM vtu_providerplan)"
            " AND id NOT IN (SELECT plan_id FROM vtu_purchase WHERE plan_id IS NOT NULL)",
            codes,
        )
        cursor.execute(
            "DELETE FROM vtu_network WHERE code IN (%s)" % ", ".join(["%s"] * len(networks))
            + " AND id NOT IN (SELECT network_id FROM vtu_dataplan)"
            " AND id NOT IN (SELECT network_id FROM vtu_route)"
            " AND id NOT IN (SELECT network_id FROM vtu_purchase)",
            networks,
        )


class Migration(migrations.Migration):
    dependencies = [("vtu", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
