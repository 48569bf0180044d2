"""Nigerian mobile numbers: parse with phonenumbers, store E.164, render per vendor."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from accounts.errors import InvalidPhoneNumber

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_ng_mobile(raw: str) -> str:
    """'0803 123 4567', '+2348031234567', '2348031234567' -> '+2348031234567'.

    Raises InvalidPhoneNumber for anything that is not a valid Nigerian mobile number."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise InvalidPhoneNumber()
    try:
        number = phonenumbers.parse(raw.strip(), "NG")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber() from exc
    if (
        number.country_code != 234
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise InvalidPhoneNumber()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national(e164: str) -> str:
    """'+2348031234567' -> '08031234567' (the 11-digit form most NG VTU APIs want)."""
    return "0" + e164.removeprefix("+234")
