"""Staff groups and what each may do: the one table the data migration, the post-migrate
sync, the `staff_groups_sync` command and the permission-matrix test all read.

- support: reads users, purchases, deposits, webhooks and wallets; requeries purchases;
  re-sends resellers' callbacks; suspends and re-activates users; works disputes (requery,
  resolve as delivered; a refund from a dispute also needs purchase_refund).
- finance: reads the money (ledger, purchases, deposits, pricing, audit log); wallet credits
  and debits and their second approval; freezing wallets; requery, refunds and resolving
  flagged purchases; re-processing deposits; exports; the dashboard figures.
- admin: every view, every staff action, and the writes that configure the business:
  catalogue, provider plans, routing and switches, pricing rules, periodic tasks; removing a
  staff member's two-factor devices (backoffice.staff_otp_reset; the device page is read-only).

Nobody (no group; the admin classes refuse superusers too) may add, change or delete a
ledger account, journal, entry, hold, ledger check, audit row or request log row: money
moves only through the wallets services, and the logs are append-only or pruned by a task.

Groups are created by migration 0002 and completed after every `migrate` (permissions of
models that land later appear then). The sync only *adds*: a permission an administrator
granted by hand is kept. `manage.py staff_groups_sync --exact` resets the groups to this
table.
"""

from __future__ import annotations

from typing import Any

SUPPORT, FINANCE, ADMIN = "support", "finance", "admin"
STAFF_GROUPS = (SUPPORT, FINANCE, ADMIN)

# "app_label.codename". A codename whose model is not installed (yet) is skipped by the sync;
# the roles test lists those so a typo cannot hide.
GROUP_PERMISSIONS: dict[str, set[str]] = {
    SUPPORT: {
        "accounts.view_user",
        "accounts.view_kycsubmission",
        "accounts.view_apikey",
        "accounts.view_callbackendpoint",
        "accounts.view_callbackdelivery",
        "accounts.change_callbackdelivery",  # re-send a reseller's callback (admin and API)
        "accounts.view_callbackattempt",
        "wallets.view_ledgeraccount",
        "wallets.view_hold",
        "vtu.view_purchase",
        "vtu.view_purchaseevent",
        "vtu.view_providerattempt",
        "vtu.view_dispute",
        "vtu.view_providercallback",
        "vtu.view_network",
        "vtu.view_dataplan",
        "payments.view_deposit",
        "payments.view_webhookevent",
        "payments.view_webhookdelivery",
        "payments.view_virtualaccount",
        "audit.view_requestlog",
        "platform.view_alert",
        "backoffice.user_suspend",
        "backoffice.purchase_requery",
        "backoffice.dispute_resolve",
    },
    FINANCE: {
        "accounts.view_user",
        "accounts.view_kycsubmission",
        "wallets.view_ledgeraccount",
        "wallets.view_journal",
        "wallets.view_entry",
        "wallets.view_hold",
        "wallets.view_adjustment",
        "wallets.view_ledgercheck",
        "vtu.view_purchase",
        "vtu.view_purchaseevent",
        "vtu.view_providerattempt",
        "vtu.view_providerstate",
        "vtu.view_dispute",
        "payments.view_deposit",
        "payments.view_webhookevent",
        "payments.view_webhookdelivery",
        "payments.view_virtualaccount",
        "pricing.view_pricingrule",
        "audit.view_auditlog",
        "platform.view_alert",
        "backoffice.analytics_view",
        "backoffice.adjustment_request",
        "backoffice.adjustment_approve",
        "backoffice.wallet_freeze",
        "backoffice.purchase_requery",  # a refund starts with a requery
        "backoffice.purchase_refund",
        "backoffice.purchase_resolve",
        "backoffice.dispute_resolve",
        "backoffice.deposit_reprocess",
        "backoffice.data_export",
    },
    ADMIN: {
        # Writes that configure the business (every view_* and backoffice.* are added below).
        "vtu.add_network",
        "vtu.change_network",
        "vtu.add_dataplan",
        "vtu.change_dataplan",
        "vtu.add_providerplan",
        "vtu.change_providerplan",
        "vtu.add_route",
        "vtu.change_route",
        "vtu.change_providerstate",
        "pricing.add_pricingrule",
        "pricing.change_pricingrule",
        "pricing.delete_pricingrule",
        "accounts.change_apikey",
        "accounts.change_callbackendpoint",
        "accounts.change_callbackdelivery",
        "django_celery_beat.add_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.add_intervalschedule",  # schedules: added, never edited in place
        "django_celery_beat.add_crontabschedule",
    },
}

# The admin group also holds every view_* permission except of these apps (session data and
# JWT refresh tokens are secrets, content types are plumbing), and every backoffice.* one.
ADMIN_VIEW_EXCLUDED_APPS = ("sessions", "token_blacklist", "contenttypes")

# Held by no group, whatever the table says (a test asserts it): direct edits of money rows
# and of the logs.
FORBIDDEN: set[str] = {
    f"{app}.{verb}_{model}"
    for app, models in {
        "wallets": ("ledgeraccount", "journal", "entry", "hold", "ledgercheck", "adjustment"),
        "audit": ("auditlog", "requestlog"),
    }.items()
    for model in models
    for verb in ("add", "change", "delete")
}


def _split(perm: str) -> tuple[str, str]:
    app_label, codename = perm.split(".", 1)
    return app_label, codename


def wanted_permissions(group: str, *, permission_model: Any) -> list[Any]:
    """The Permission rows `group` should hold that exist in this database."""
    by_key = {
        (app_label, codename): pk
        for pk, app_label, codename in permission_model.objects.values_list("pk", "content_type__app_label", "codename")
    }
    keys = {_split(perm) for perm in GROUP_PERMISSIONS[group]}
    if group == ADMIN:
        keys |= {
            key for key in by_key
            if (key[1].startswith("view_") and key[0] not in ADMIN_VIEW_EXCLUDED_APPS) or key[0] == "backoffice"
        }
    keys = {key for key in keys if f"{key[0]}.{key[1]}" not in FORBIDDEN}
    return [by_key[key] for key in sorted(keys) if key in by_key]


def staff_groups_sync(*, apps: Any = None, exact: bool = False) -> dict[str, int]:
    """Create the staff groups if missing and give each the permissions of the table that
    exist. `exact` also removes permissions not in the table. Returns group -> permission
    count. Works with the live models or a migration's historical `apps`."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    counts = {}
    for name in STAFF_GROUPS:
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = wanted_permissions(name, permission_model=permission_model)
        if exact:
            group.permissions.set(wanted)
        else:
            group.permissions.add(*wanted)
        counts[name] = group.permissions.count()
    return counts


def sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate receiver. backoffice is last in INSTALLED_APPS, so when the signal is for
    it, every app's permissions have just been created."""
    if getattr(sender, "name", None) != "backoffice":
        return
    using = kwargs.get("using", "default")
    if using != "default":
        return
    staff_groups_sync()
