"""The staff groups and their permissions (backoffice/roles.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from backoffice import roles
from backoffice.models import STAFF_ACTION_PERMISSIONS

pytestmark = pytest.mark.django_db


def _perms(group: str) -> set[str]:
    return {
        f"{app}.{code}"
        for app, code in Group.objects.get(name=group).permissions.values_list("content_type__app_label", "codename")
    }


def test_the_migration_and_sync_create_the_three_groups_with_their_table():
    assert set(Group.objects.values_list("name", flat=True)) >= {"support", "finance", "admin"}
    for group in ("support", "finance"):
        assert _perms(group) == roles.GROUP_PERMISSIONS[group]


def test_every_permission_named_in_the_table_exists():
    existing = {f"{app}.{code}" for app, code in Permission.objects.values_list("content_type__app_label", "codename")}
    named = set().union(*roles.GROUP_PERMISSIONS.values())
    assert named - existing == set()


def test_nobody_holds_a_permission_to_edit_money_rows_or_logs():
    assert roles.FORBIDDEN  # the list is not empty by accident
    for group in roles.STAFF_GROUPS:
        assert _perms(group) & roles.FORBIDDEN == set(), group
    assert set().union(*roles.GROUP_PERMISSIONS.values()) & roles.FORBIDDEN == set()


def test_the_admin_group_sees_everything_but_secrets_and_holds_every_staff_action():
    admin = _perms("admin")
    assert roles.GROUP_PERMISSIONS["admin"] <= admin
    assert {f"backoffice.{code}" for code, _ in STAFF_ACTION_PERMISSIONS} <= admin
    assert {"wallets.view_entry", "audit.view_auditlog", "vtu.view_providercall", "auth.view_group"} <= admin
    assert not any(perm.startswith(("sessions.", "token_blacklist.")) for perm in admin)
    assert "wallets.change_ledgeraccount" not in admin


def test_support_and_finance_split():
    support, finance = _perms("support"), _perms("finance")
    assert {"backoffice.user_suspend", "backoffice.purchase_requery"} <= support
    assert not {"backoffice.adjustment_approve", "backoffice.purchase_refund", "backoffice.analytics_view"} & support
    assert {"backoffice.adjustment_request", "backoffice.adjustment_approve", "backoffice.purchase_refund",
            "backoffice.data_export"} <= finance
    assert "backoffice.user_suspend" not in finance


def test_the_sync_only_adds_unless_exact():
    extra = Permission.objects.get(content_type__app_label="vtu", codename="view_providercall")
    support = Group.objects.get(name="support")
    support.permissions.add(extra)
    support.permissions.remove(Permission.objects.get(content_type__app_label="vtu", codename="view_purchase"))

    call_command("staff_groups_sync")
    assert "vtu.view_providercall" in _perms("support")  # a hand-made grant survives
    assert "vtu.view_purchase" in _perms("support")  # a missing one comes back

    call_command("staff_groups_sync", "--exact")
    assert _perms("support") == roles.GROUP_PERMISSIONS["support"]


def test_a_deleted_group_is_recreated_by_the_sync():
    Group.objects.filter(name="finance").delete()
    roles.staff_groups_sync()
    assert _perms("finance") == roles.GROUP_PERMISSIONS["finance"]
