"""Create the staff groups support, finance and admin with the permissions of
backoffice/roles.py that exist at this point. Permissions of models migrated later are added
by the post-migrate sync (backoffice/apps.py), which reads the same table."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_groups(apps, schema_editor):
    from backoffice.roles import staff_groups_sync

    # Permissions are normally created after the whole migrate run; make the ones of the
    # models known so far now, so the groups are useful straight after this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    staff_groups_sync(apps=apps)


def remove_groups(apps, schema_editor):
    from backoffice.roles import STAFF_GROUPS

    apps.get_model("auth", "Group").objects.filter(name__in=STAFF_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("audit", "0003_requestlog"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
