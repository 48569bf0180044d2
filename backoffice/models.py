"""The back office owns no tables. `StaffAction` only carries the permissions of staff
actions that are not "view/add/change/delete a model" (suspend a user, requery a purchase,
approve an adjustment, export...), so they can be granted to the staff groups like any
other permission and checked with `user.has_perm("backoffice.<codename>")`."""

from __future__ import annotations

from django.db import models

# codename -> description. Admin pages and staff API views check these; the groups that hold
# them are declared in backoffice/roles.py.
STAFF_ACTION_PERMISSIONS: list[tuple[str, str]] = [
    ("analytics_view", "See the dashboard figures and the analytics API"),
    ("user_suspend", "Suspend and re-activate users"),
    ("user_kyc_tier_set", "Change a user's KYC tier and decide KYC submissions"),
    ("purchase_requery", "Requery a purchase at its provider now"),
    ("purchase_resolve", "Resolve a flagged purchase as delivered or failed"),
    ("purchase_refund", "Refund a successful purchase"),
    ("dispute_resolve", "Work the dispute queue"),
    ("adjustment_request", "Request a wallet credit or debit"),
    ("adjustment_approve", "Approve or reject another staff member's wallet adjustment"),
    ("wallet_freeze", "Freeze and unfreeze wallets"),
    ("deposit_reprocess", "Re-process a deposit or a webhook event"),
    ("pricing_bulk_update", "Change pricing rules in bulk"),
    ("provider_manage", "Switch providers, reorder routing, reset circuit breakers"),
    ("data_export", "Export transactions and purchases to CSV"),
    ("alert_resolve", "Mark an operator alert as resolved"),
    ("staff_role_set", "Make a user staff, change their staff group or remove staff access"),
    ("staff_otp_reset", "Remove a staff member's two-factor devices (with a reason)"),
]


class StaffAction(models.Model):
    class Meta:
        managed = False  # no table: a content type to hang the permissions on
        default_permissions = ()
        permissions = STAFF_ACTION_PERMISSIONS
        verbose_name = "staff action"

    def __str__(self) -> str:
        return "staff action"
