"""The back office: the staff console (the Django admin site), its dashboard, staff groups,
two-factor login and the staff API. The top layer: it reads every app and calls their
services; nothing imports it.

Two app configs live here. `BackofficeConfig` is the app itself. `StaffAdminConfig` takes
the place of "django.contrib.admin" in INSTALLED_APPS so that `admin.site`, where every
app's `@admin.register` lands, is our `StaffAdminSite` (Django's documented way to override
the default site): the apps keep registering as usual and get two-factor login, session
expiry and the dashboard for free.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"
    default = True

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from backoffice import roles

        # Permissions of models that arrive in later migrations (of any app) are added to the
        # staff groups after every migrate; see backoffice/roles.py.
        post_migrate.connect(roles.sync_after_migrate, dispatch_uid="backoffice.roles.sync")


class StaffAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "backoffice.site.StaffAdminSite"
