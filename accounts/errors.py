from __future__ import annotations

from config.errors import ApiError


class InvalidCredentials(ApiError):
    code = "INVALID_CREDENTIALS"


class LoginLocked(ApiError):
    code = "LOGIN_LOCKED"


class EmailNotVerified(ApiError):
    code = "EMAIL_NOT_VERIFIED"


class InvalidToken(ApiError):
    code = "INVALID_TOKEN"


class InvalidPassword(ApiError):
    code = "INVALID_PASSWORD"


class InvalidPhoneNumber(ApiError):
    code = "INVALID_PHONE_NUMBER"


class PinNotSet(ApiError):
    code = "PIN_NOT_SET"


class PinRequired(ApiError):
    code = "PIN_REQUIRED"


class PinInvalid(ApiError):
    code = "PIN_INVALID"


class PinLocked(ApiError):
    code = "PIN_LOCKED"


class GoogleTokenInvalid(ApiError):
    code = "GOOGLE_TOKEN_INVALID"


class AccountSuspended(ApiError):
    code = "ACCOUNT_SUSPENDED"
