"""Forms of the staff console: the two-factor login and the "with a reason" action forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts import lockout
from accounts.errors import LoginLocked
from backoffice import otp
from backoffice.roles import STAFF_GROUPS
from config import request_context


class StaffLoginForm(AdminAuthenticationForm):
    """E-mail, password and (when the account has a device) the TOTP code, in one step.

    Failed passwords and wrong codes count towards the same per-account-and-IP lockout as
    the API login (accounts.lockout), so the console is no side door for guessing."""

    otp_token = forms.CharField(
        required=False, max_length=10, label="Authentication code",
        help_text="The 6-digit code from your authenticator app, if you have set one up.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": "Too many failed logins; try again later.",
        "otp_missing": "Enter the code from your authenticator app.",
        "otp_invalid": "The authentication code is wrong or has expired.",
        "otp_not_enrolled": (
            "Two-factor authentication is required for your account and none is set up. "
            "Ask an operator to run: manage.py staff_otp_enrol <your e-mail>."
        ),
    }

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip()
        ip = request_context.client_ip(self.request) if self.request is not None else None
        try:
            lockout.ensure_not_locked(email=email, ip=ip)
        except LoginLocked:
            raise ValidationError(self.error_messages["locked"], code="locked") from None
        try:
            cleaned = super().clean()
            self._check_second_factor(self.get_user())
        except ValidationError:
            if email:
                lockout.record_failure(email=email, ip=ip)
            raise
        lockout.record_success(email=email, ip=ip)
        return cleaned

    def _check_second_factor(self, user: Any) -> None:
        if user is None:
            return
        if otp.has_device(user):
            token = (self.cleaned_data.get("otp_token") or "").strip()
            if not token:
                raise ValidationError(self.error_messages["otp_missing"], code="otp_missing")
            device = otp.token_match(user, token)
            if device is None:
                raise ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            # django-otp's user_logged_in handler stores this device in the session, which
            # is what makes `user.is_verified()` true from the next request on.
            user.otp_device = device
        elif otp.two_factor_required(user):
            raise ValidationError(self.error_messages["otp_not_enrolled"], code="otp_not_enrolled")


class ReasonForm(forms.Form):
    """The confirmation page of an admin action that needs a reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000, strip=True,
        help_text="Required. Saved in the audit log with your name.",
    )


class KycTierForm(ReasonForm):
    tier = forms.TypedChoiceField(choices=[(tier, f"Tier {tier}") for tier in range(4)], coerce=int)


class StaffRoleForm(ReasonForm):
    group = forms.ChoiceField(
        choices=[("", "Not staff (remove console access)"), *((group, group) for group in STAFF_GROUPS)],
        required=False, label="Staff group",
        help_text="What each group may do: docs/backoffice.md. A superuser is managed with manage.py.",
    )
    field_order = ["group", "reason"]


class OtpTokenForm(forms.Form):
    token = forms.CharField(
        max_length=10, label="Code from the app",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )
