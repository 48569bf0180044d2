from django.db import migrations

from config.migration_ops import append_only


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [append_only("audit_auditlog")]
