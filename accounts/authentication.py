"""API-key authentication: `X-API-Key: vtu_live_...` (accounts/api_keys.py).

On success `request.user` is the key's owner and `request.api_key` the key (with `.scopes`,
`.pk`, `.prefix`); the global `APIKeyScope` permission then enforces scopes per view and
`IsStaff` refuses keys. A key that is unknown, revoked or expired answers 401 with its own
code; a key used from outside its IP allow-list answers 403 IP_NOT_ALLOWED. JWT requests
never reach this class with a key: the JWT authenticator runs first.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import api_keys
from accounts.models import APIKey, User
from config import request_context


class APIKeyAuthentication(authentication.BaseAuthentication):
    header = "HTTP_X_API_KEY"

    def authenticate(self, request: Request) -> tuple[User, APIKey] | None:
        raw_key = request.META.get(self.header)
        if not raw_key:
            return None
        ip = request_context.client_ip(request._request)
        try:
            api_key = api_keys.api_key_check(raw_key=raw_key, ip=ip)
        except api_keys.APIKeyRejected as rejected:
            if rejected.code == "IP_NOT_ALLOWED":
                raise exceptions.PermissionDenied(rejected.detail, code=rejected.code) from None
            raise exceptions.AuthenticationFailed(rejected.detail, code=rejected.code) from None
        # Both the DRF request and the Django request carry it (middleware reads the latter).
        request.api_key = api_key  # type: ignore[attr-defined]
        request._request.api_key = api_key  # type: ignore[attr-defined]
        api_keys.api_key_usage_record(api_key=api_key, ip=ip)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return "X-API-Key"
