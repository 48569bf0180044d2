"""OpenAPI (drf-spectacular): the error envelope on every operation and the code registry."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiResponse

from config.errors import ERROR_CODES

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}


_NESTED_NAMES = {"InputSerializer": "Input", "OutputSerializer": "Output", "FilterSerializer": "Filter"}


class AutoSchema(BaseAutoSchema):
    """Adds the envelope for the error statuses an operation can answer, and names the nested
    `InputSerializer`/`OutputSerializer` of each APIView after its view (e.g. LoginInput)."""

    def _get_serializer_name(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls_name = type(serializer).__name__
        outer = type(serializer).__qualname__.split(".")
        if cls_name in _NESTED_NAMES and len(outer) > 1:
            view = outer[-2].removesuffix("Api").removesuffix("View")
            name = name.replace(cls_name.removesuffix("Serializer"), view + _NESTED_NAMES[cls_name], 1)
        return name

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        statuses = ["400", "401", "403", "404", "405", "413", "415", "429", "500"]
        if self.method == "POST":
            statuses += ["402", "409", "422"]
        if not self.get_auth():
            statuses.remove("401")
        for status in statuses:
            responses.setdefault(
                status,
                {"description": "Error (see `error_code`)", "content": {"application/json": {"schema": ENVELOPE_REF}}},
            )
        return responses


def add_error_codes(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the ErrorEnvelope component and `x-error-codes` (code -> status)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorEnvelope"] = {
        "type": "object",
        "required": ["detail", "error_code", "errors"],
        "properties": {
            "detail": {"type": "string"},
            "error_code": {"type": "string", "enum": sorted(ERROR_CODES)},
            "errors": {"type": "object", "additionalProperties": True},
            "error_id": {"type": "string", "description": "Present on 500: quote it to support."},
        },
    }
    result["x-error-codes"] = {
        code: {"status": status, "description": description} for code, (status, description) in ERROR_CODES.items()
    }
    return result


__all__ = ["AutoSchema", "OpenApiResponse", "add_error_codes"]


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
