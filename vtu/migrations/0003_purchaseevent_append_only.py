from django.db import migrations

from config.migration_ops import append_only


class Migration(migrations.Migration):
    dependencies = [("vtu", "0002_seed_catalogue")]

    operations = [append_only("vtu_purchaseevent")]
