"""Nigerian mobile numbers: parse with phonenumbers, store E.164, render per vendor."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from accounts.errors import InvalidPhoneNumber

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
MESSAGE = "Not a valid Nigerian mobile number (e.g. 0803 123 4567 or +2348031234567)."


def parse_ng_mobile(raw: object) -> str | None:
    """'0803 123 4567', '+2348031234567', '2348031234567' -> '+2348031234567'; None for
    anything that is not a valid Nigerian mobile number. For serializer fields, which report
    the error under their own name."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        return None
    try:
        number = phonenumbers.parse(raw.strip(), "NG")
    except phonenumbers.NumberParseException:
        return None
    if (
        number.country_code != 234
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_ng_mobile(raw: object, *, field: str = "phone_number") -> str:
    """As parse_ng_mobile, for services: raises InvalidPhoneNumber carrying the field error
    under `field`, so the envelope says which input was wrong."""
    number = parse_ng_mobile(raw)
    if number is None:
        raise InvalidPhoneNumber(errors={field: [MESSAGE]})
    return number


def national(e164: str) -> str:
    """'+2348031234567' -> '08031234567' (the 11-digit form most NG VTU APIs want)."""
    return "0" + e164.removeprefix("+234")
