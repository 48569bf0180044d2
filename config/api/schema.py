"""OpenAPI (drf-spectacular): the error envelope on every operation and the code registry;
which operations take an API key, and the Idempotency-Key header where a view reads it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import SAFE_METHODS

from config.api import idempotency
from config.api.permissions import APIKeyScope, IsStaff
from config.errors import ERROR_CODES

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}


_NESTED_NAMES = {"InputSerializer": "Input", "OutputSerializer": "Output", "FilterSerializer": "Filter"}
API_KEY_SCHEME = "ApiKeyAuth"


def api_key_usable(view: Any, method: str) -> bool:
    """Whether a request made with an API key can pass `view`'s permissions for `method`,
    read from the same classes that decide it (config/api/permissions.py): IsStaff (and so
    HasStaffPermission) refuses every key; APIKeyScope lets a key read, and write only where
    the view declares `api_key_scope`."""
    classes = list(getattr(view, "permission_classes", []))
    if any(isinstance(cls, type) and issubclass(cls, IsStaff) for cls in classes):
        return False
    if method.upper() not in SAFE_METHODS and any(isinstance(cls, type) and issubclass(cls, APIKeyScope) for cls in classes):
        return getattr(view, "api_key_scope", None) is not None
    return True


def _idempotency_parameter(required_for_api_keys: bool) -> dict[str, Any]:
    usage = (
        "**Required with an API key** (400 `IDEMPOTENCY_KEY_REQUIRED` without it); optional with a JWT."
        if required_for_api_keys else "Optional."
    )
    return {
        "in": "header",
        "name": idempotency.HEADER,
        "required": False,  # required for API-key requests only: OpenAPI cannot say "per scheme"
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": (
            f"{usage} 1-255 printable characters (a UUID or your order id). The same key with the same "
            "body within 24 h replays the first answer (`Idempotency-Replayed: true`); with another "
            "body: 422 `IDEMPOTENCY_KEY_REUSED`; while the first is running: 409 `IDEMPOTENCY_IN_FLIGHT`."
        ),
    }


class AutoSchema(BaseAutoSchema):
    """Adds the envelope for the error statuses an operation can answer, and names the nested
    `InputSerializer`/`OutputSerializer` of each APIView after its view (e.g. LoginInput).
    Lists ApiKeyAuth only where a key can pass the view's permissions, and declares the
    Idempotency-Key header on every handler decorated with @idempotent."""

    def get_auth(self) -> list[dict[str, list[str]]]:
        auth = super().get_auth()
        if api_key_usable(self.view, self.method):
            return auth
        return [requirement for requirement in auth if API_KEY_SCHEME not in requirement]

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = [
            parameter for parameter in super()._get_parameters()
            if (parameter["name"], parameter["in"]) != (idempotency.HEADER, "header")
        ]
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            required = getattr(handler, "idempotent_required_for_api_keys", True) and api_key_usable(
                self.view, self.method
            )
            parameters.append(_idempotency_parameter(required))
        return parameters

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
    name = API_KEY_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
