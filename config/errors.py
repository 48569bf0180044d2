"""The error-code registry: every `error_code` the API can answer, with its HTTP status.

One place maps codes to statuses (DESIGN §7). `ApiError` refuses an unregistered code when a
subclass is defined or an instance is made, and a test walks every subclass and every code
literal in the tree, so a code cannot reach a client without being listed here. The registry
is exported into the OpenAPI schema as `x-error-codes`.
"""

from __future__ import annotations

from typing import Any

ERROR_CODES: dict[str, tuple[int, str]] = {
    # 400: the request is wrong
    "VALIDATION_ERROR": (400, "One or more fields are invalid; see `errors`."),
    "MALFORMED_JSON": (400, "The body is not valid JSON."),
    "INVALID_AMOUNT": (400, "The amount is not a positive whole number of kobo within range."),
    "AMOUNT_OUT_OF_RANGE": (400, "The amount is below the minimum or above the maximum."),
    "INVALID_PHONE_NUMBER": (400, "The phone number is not a valid Nigerian mobile number."),
    "NETWORK_MISMATCH": (400, "The number's prefix belongs to another network; send `ported: true`."),
    "SELF_TRANSFER": (400, "A wallet cannot transfer to itself."),
    "INVALID_TOKEN": (400, "The verification or reset token is invalid, used or expired."),
    "INVALID_PASSWORD": (400, "The current password is wrong."),
    "PIN_NOT_SET": (400, "Set a transaction PIN first (POST /api/v1/auth/pin)."),
    "PIN_REQUIRED": (400, "This request needs the transaction PIN."),
    "REASON_REQUIRED": (400, "A reason is required for this action."),
    "IDEMPOTENCY_KEY_REQUIRED": (400, "Send an Idempotency-Key header with this request."),
    "IDEMPOTENCY_KEY_INVALID": (400, "The Idempotency-Key header must be 1-255 printable characters."),
    "UNSAFE_URL": (400, "The URL is not allowed (not https, or resolves to a private address)."),
    "INVALID_FILE": (400, "The file is of a type or size that is not accepted."),
    "INVALID_ID_NUMBER": (400, "The BVN or NIN must be exactly 11 digits."),
    "BELOW_COST": (400, "The price would be below cost and the rule is not a promotion."),
    "UNSUPPORTED_PRODUCT": (400, "The product is not available for this network or provider."),
    "DISPUTE_WINDOW_CLOSED": (400, "The dispute window for this purchase has closed."),
    "SECOND_APPROVAL_SAME_USER": (400, "A different staff member must approve."),
    "STATEMENT_TOO_LARGE": (400, "The statement has too many entries for one CSV file; narrow the date range."),
    # 401: who are you?
    "NOT_AUTHENTICATED": (401, "Authentication credentials were not provided."),
    "AUTHENTICATION_FAILED": (401, "The credentials are not valid."),
    "INVALID_CREDENTIALS": (401, "E-mail or password is wrong."),
    "TOKEN_INVALID": (401, "The token is invalid, expired or revoked."),
    "OTP_INVALID": (401, "The two-factor code is wrong or has expired."),
    "GOOGLE_TOKEN_INVALID": (401, "The Google ID token could not be verified."),
    "API_KEY_INVALID": (401, "The API key is unknown."),
    "API_KEY_REVOKED": (401, "The API key has been revoked."),
    "API_KEY_EXPIRED": (401, "The API key has expired."),
    "WEBHOOK_SIGNATURE_INVALID": (401, "The webhook signature is missing or does not verify."),
    # 402: money
    "INSUFFICIENT_FUNDS": (402, "The wallet's available balance is too low."),
    # 403: not allowed
    "PERMISSION_DENIED": (403, "You do not have permission to do this."),
    "ACCOUNT_SUSPENDED": (403, "The account is suspended; it can read but not move money or change data."),
    "EMAIL_NOT_VERIFIED": (403, "Verify your e-mail address first."),
    "INSUFFICIENT_SCOPE": (403, "The API key lacks the scope this endpoint needs."),
    "IP_NOT_ALLOWED": (403, "The API key is not allowed from this IP address."),
    "STAFF_ONLY": (403, "Staff only."),
    "OTP_REQUIRED": (403, "This staff account needs its two-factor code: log in again sending `otp`."),
    "PIN_INVALID": (403, "The transaction PIN is wrong."),
    "PIN_LOCKED": (403, "Too many wrong PINs; PIN use is locked for a while."),
    "WALLET_FROZEN": (403, "The wallet is frozen; contact support."),
    "LIMIT_EXCEEDED": (403, "The amount is over a limit of your KYC tier."),
    "LOGIN_LOCKED": (403, "Too many failed logins; try again later."),
    "GATEWAY_DISABLED": (403, "This payment gateway is not enabled."),
    "PRODUCT_DISABLED": (403, "This network, plan type or plan is switched off."),
    # 404
    "NOT_FOUND": (404, "Not found."),
    "RECIPIENT_NOT_FOUND": (404, "No wallet matches the recipient."),
    "PLAN_NOT_FOUND": (404, "No such data plan."),
    "NETWORK_NOT_FOUND": (404, "No such network (MTN, AIRTEL, GLO, 9MOBILE)."),
    "UNKNOWN_GATEWAY": (404, "No such payment gateway."),
    # 405, 406
    "METHOD_NOT_ALLOWED": (405, "This method is not allowed here."),
    "NOT_ACCEPTABLE": (406, "The requested response format is not available."),
    # 409: state
    "IDEMPOTENCY_IN_FLIGHT": (409, "A request with this Idempotency-Key is still being processed."),
    "IDEMPOTENCY_CONFLICT": (409, "This idempotency key was already used for a different movement."),
    "DUPLICATE_PURCHASE": (409, "Same purchase for this number a moment ago; send `confirm_duplicate: true`."),
    "DUPLICATE_ADJUSTMENT": (409, "Same adjustment of this wallet by you a moment ago; send `confirm_duplicate: true`."),
    "INVALID_STATE": (409, "The object is not in a state that allows this action."),
    "ALREADY_EXISTS": (409, "This already exists."),
    "BANK_REFERENCE_USED": (409, "This bank reference has already been credited."),
    "API_KEY_LIMIT": (409, "At most 5 active API keys per user."),
    "CALLBACK_ENDPOINT_LIMIT": (409, "Too many callback endpoints; delete one first."),
    "ALREADY_DISPUTED": (409, "This purchase already has a dispute."),
    # 413, 415
    "PAYLOAD_TOO_LARGE": (413, "The request body is too large."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Send the body as application/json."),
    # 422
    "IDEMPOTENCY_KEY_REUSED": (422, "This Idempotency-Key was used with a different request body."),
    "DUPLICATE_REFERENCE": (422, "This client reference was already used with a different request."),
    # 429
    "THROTTLED": (429, "Too many requests; retry after the number of seconds in Retry-After."),
    # 5xx
    "INTERNAL_ERROR": (500, "Something went wrong on our side; quote error_id to support."),
    "PROVIDER_ERROR": (502, "The upstream provider answered with an error."),
    "GATEWAY_ERROR": (502, "The payment gateway answered with an error."),
    "SERVICE_UNAVAILABLE": (503, "The service is temporarily unavailable."),
    "PROVIDER_UNAVAILABLE": (503, "No provider can take this purchase right now."),
    "PRICE_NOT_SET": (503, "No price is configured for this product right now."),
}


class UnregisteredErrorCode(RuntimeError):
    pass


def status_for(code: str) -> int:
    try:
        return ERROR_CODES[code][0]
    except KeyError as exc:
        raise UnregisteredErrorCode(f"error code {code!r} is not in config/errors.py") from exc


class ApiError(Exception):
    """A domain error that reaches the client in the envelope.

    Subclasses set `code` (a key of ERROR_CODES); the HTTP status comes from the registry.
    `errors` carries field errors, `headers` extra response headers (e.g. Retry-After).
    """

    code: str = "VALIDATION_ERROR"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        status_for(cls.code)  # refuse an unregistered code at import time

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.status_code = status_for(self.code)
        self.detail = detail or ERROR_CODES[self.code][1]
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(self.detail)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class NotFound(ApiError):
    code = "NOT_FOUND"


class PermissionDenied(ApiError):
    code = "PERMISSION_DENIED"


class InvalidState(ApiError):
    code = "INVALID_STATE"


class ReasonRequired(ApiError):
    code = "REASON_REQUIRED"
