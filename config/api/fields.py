"""Strict serializer fields: JSON types are not coerced.

DRF's IntegerField accepts "500" and 500.0 and CharField accepts 1234; for money and PINs
that hides client bugs (a PIN 0123 sent as a number becomes "123"), so these refuse them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

MAX_KOBO = 10**13  # ₦100bn: anything above is absurd, and stays far below BIGINT


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class KoboField(serializers.IntegerField):
    """A positive whole number of kobo, sent as a JSON integer."""

    default_error_messages = {"not_an_integer": "Must be a whole number of kobo (a JSON integer)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_KOBO)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class PinField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 4)
        kwargs.setdefault("max_length", 4)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictBooleanField(serializers.BooleanField):
    """true or false as JSON booleans only ("yes", 1 and "true" are refused)."""

    default_error_messages = {"not_a_boolean": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data
