"""Staff two-factor devices in the console: read-only, no secret shown, and one action:
remove a staff member's devices with a reason (lost phone), audited `staff.otp_reset`.

django-otp's own TOTPDevice admin shows the device key (the shared TOTP secret) and its QR
code to whoever may view the page, so any administrator could clone a colleague's second
factor, and edits there are not audited. It is replaced here (OTP_ADMIN_HIDE_SENSITIVE_DATA
is on as well, for any django-otp page that might come back). Enrolling is the staff
member's own "Two-factor" page or `manage.py staff_otp_enrol`.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.admin import ReadOnlyAdmin
from audit.admin_actions import bulk_action
from audit.services import Actor
from backoffice import services

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffDeviceAdmin(ReadOnlyAdmin):
    # Never `key` (the secret), nor `drift`/`t0` and the rest of its configuration.
    fields = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count",
              "throttling_failure_timestamp")
    readonly_fields = fields
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    list_filter = ("confirmed",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    actions = ("reset_devices",)

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backoffice.staff_otp_reset")

    @admin.action(permissions=["reset"], description="Remove the owners' two-factor devices (asks for a reason)")
    def reset_devices(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> HttpResponse | None:
        actor = Actor.from_request(request)
        # Per device selected; a second device of the same owner finds nothing left (no-op).
        return bulk_action(
            request, self, queryset.select_related("user"), action="reset_devices", verb="Remove two-factor devices",
            call=lambda device, data: services.staff_otp_reset(actor=actor, user_id=device.user_id, reason=data["reason"]),
        )
