"""Forms of the ledger's console pages: amounts typed in naira, the credit / debit form with
its one-time token, the statement's date range."""

from __future__ import annotations

import copy
import re
import secrets
from datetime import timedelta
from typing import Any

from django import forms

from audit.admin_actions import ReasonForm
from wallets import clock
from wallets.models import Adjustment

FORM_EXPIRED = "This form has expired or was altered: open Credit / debit again."

_NAIRA = re.compile(r"^(\d{1,12})(?:\.(\d{1,2}))?$")


def naira(kobo: int | None) -> str:
    if kobo is None:
        return "—"
    sign = "-" if kobo < 0 else ""
    return f"{sign}₦{abs(kobo) // 100:,}.{abs(kobo) % 100:02d}"


def naira_to_kobo(text: str) -> int:
    """'1,500.50' or '₦1500.5' -> 150050, with integer arithmetic only. Raises ValueError."""
    cleaned = text.strip().replace(",", "").replace("₦", "").strip()
    match = _NAIRA.match(cleaned)
    if match is None:
        raise ValueError("an amount in naira, e.g. 1500 or 1,500.50")
    whole, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(fraction)


class NairaField(forms.CharField):
    """An amount typed in naira (at most two decimals), cleaned to integer kobo."""

    def clean(self, value: Any) -> int:
        text = super().clean(value)
        try:
            kobo = naira_to_kobo(text)
        except ValueError as error:
            raise forms.ValidationError(f"Enter {error}.") from None
        if kobo <= 0:
            raise forms.ValidationError("The amount must be more than zero.")
        return kobo


class AdjustmentForm(ReasonForm):
    direction = forms.ChoiceField(choices=Adjustment.Direction.choices, widget=forms.RadioSelect)
    amount = NairaField(label="Amount (₦)", max_length=20)
    bank_reference = forms.CharField(
        required=False, max_length=100, strip=True,
        help_text="For a credit of money received by bank transfer: the bank's reference. One bank transfer "
        "is credited once (a reference already used is refused; case, spaces, hyphens, underscores, slashes and "
        "dots are ignored).",
    )
    # Made when the page is rendered and stored with the adjustment (UNIQUE per staff member):
    # the same form submitted twice (a double click, a reload, the back button) finds the
    # first adjustment instead of making a second.
    request_token = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{20,64}$", widget=forms.HiddenInput,
        error_messages={"required": FORM_EXPIRED, "invalid": FORM_EXPIRED},
    )
    confirm_duplicate = forms.BooleanField(
        required=False, label="Yes, make it again",
        help_text="Tick only if a second, separate adjustment like the one named above is really meant.",
    )
    field_order = ["direction", "amount", "bank_reference", "reason", "confirm_duplicate"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "confirm_duplicate" not in self.data:  # offered only with a duplicate refusal
            del self.fields["confirm_duplicate"]

    def offer_duplicate_confirmation(self, message: str) -> None:
        """Show the DUPLICATE_ADJUSTMENT refusal and the box that confirms a second one."""
        self.fields["confirm_duplicate"] = copy.deepcopy(self.base_fields["confirm_duplicate"])
        self.add_error(None, message)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("bank_reference") and data.get("direction") != Adjustment.Direction.CREDIT:
            self.add_error("bank_reference", "A bank reference goes with a credit only.")
        return data


class StatementForm(forms.Form):
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = clock.lagos_today()
        data["date_to"] = data.get("date_to") or today
        data["date_from"] = data.get("date_from") or data["date_to"].replace(day=1)
        if data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start is after the end.")
        if data["date_to"] - data["date_from"] > timedelta(days=366):
            raise forms.ValidationError("At most 366 days per statement.")
        return data


def new_form_token() -> str:
    """A one-time token for a credit / debit form (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)
