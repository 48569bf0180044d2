"""Project-wide permissions."""

from __future__ import annotations

from rest_framework import exceptions, permissions
from rest_framework.request import Request


class NotSuspendedForWrites(permissions.BasePermission):
    """A suspended user can still read; anything that moves money or changes data is 403
    ACCOUNT_SUSPENDED (DESIGN §6). Checked on every request, JWT and API key alike."""

    message = "The account is suspended; it can read but not move money or change data."
    code = "ACCOUNT_SUSPENDED"

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if request.method in permissions.SAFE_METHODS or not (user and user.is_authenticated):
            return True
        if getattr(view, "allow_when_suspended", False):
            return True
        return getattr(user, "suspended_at", None) is None


class IsStaff(permissions.BasePermission):
    """Staff endpoints: a staff user with the JWT of a staff login; never an API key.

    The token must come from a staff session: one that ends STAFF_SESSION_AGE_MINUTES after the
    login, and, when two-factor applies to the user, was issued against a TOTP code (else 403
    OTP_REQUIRED). The rules are the console's too: accounts/staff_otp.py."""

    message = "Staff only."
    code = "STAFF_ONLY"

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if getattr(request, "api_key", None) is not None:
            return False
        if not (user and user.is_authenticated and user.is_staff and user.is_active):
            return False
        # Imported here: this plumbing module loads before the apps; the rule is identity's.
        from accounts.staff_otp import api_token_check

        api_token_check(user, request.auth)
        return True


class HasStaffPermission(IsStaff):
    """IsStaff (JWT of an active staff user, never an API key) and the permission the view
    names: `staff_permission = "backoffice.adjustment_request"`, or per method
    `staff_permissions = {"GET": "pricing.view_pricingrule", "POST": ...}`. A view (or a
    method) that names none is closed to everyone. Which staff group holds which permission
    is backoffice/roles.py; this class lives here so that every app may use it.

    Non-staff get 403 STAFF_ONLY; staff without the permission 403 PERMISSION_DENIED, checked
    before the body is parsed, so a refused caller learns nothing about the input."""

    def has_permission(self, request: Request, view: object) -> bool:
        if not super().has_permission(request, view):
            return False
        per_method = getattr(view, "staff_permissions", None) or {}
        needed = per_method.get(request.method) or getattr(view, "staff_permission", None)
        if needed and request.user.has_perm(needed):
            return True
        raise exceptions.PermissionDenied("Your staff group may not do this.", code="PERMISSION_DENIED")


class InStaffGroup(IsStaff):
    """Staff in one of `groups` (or a superuser). Subclass and set `groups`."""

    groups: tuple[str, ...] = ()

    def has_permission(self, request: Request, view: object) -> bool:
        if not super().has_permission(request, view):
            return False
        user = request.user
        return user.is_superuser or user.groups.filter(name__in=self.groups).exists()


class APIKeyScope(permissions.BasePermission):
    """Requests made with an API key need the scope the view declares (DESIGN §6).

    A view sets `api_key_scope` to "purchase", "transfer" or "deposit" for its writes; reads
    (GET/HEAD/OPTIONS) need "read". A view without `api_key_scope` refuses API keys for
    writes, and staff views refuse them altogether (IsStaff). JWT requests are unaffected.
    """

    message = "The API key lacks the scope this endpoint needs."
    code = "INSUFFICIENT_SCOPE"

    def has_permission(self, request: Request, view: object) -> bool:
        key = getattr(request, "api_key", None)
        if key is None:
            return True
        needed = "read" if request.method in permissions.SAFE_METHODS else getattr(view, "api_key_scope", None)
        return needed is not None and needed in key.scopes
