"""Validate a request body with a serializer and raise the envelope's error.

`field_codes` maps a field to a specific error code (e.g. amount -> INVALID_AMOUNT), so a
client can tell "bad amount" from other validation errors without parsing messages.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.errors import ApiError


def parse(
    serializer_class: type[serializers.Serializer],
    data: Any,
    *,
    field_codes: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(code="VALIDATION_ERROR", errors={"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=data, context=context or {})
    if serializer.is_valid():
        return serializer.validated_data
    errors = serializer.errors
    for field, code in (field_codes or {}).items():
        if field in errors:
            messages = errors[field]
            detail = str(messages[0]) if isinstance(messages, list) and messages else None
            raise ApiError(code=code, detail=detail, errors=errors)
    raise ApiError(code="VALIDATION_ERROR", detail="Invalid input.", errors=errors)
