"""API-key authentication (`X-API-Key`): filled in by the reseller API issue.

Until keys exist this class authenticates nobody, so only JWT works.
"""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.request import Request


class APIKeyAuthentication(authentication.BaseAuthentication):
    header = "HTTP_X_API_KEY"

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return "X-API-Key"
