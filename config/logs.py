"""Logging: structlog everywhere, JSON lines in production, readable in development.

Every line carries the request id bound by `config.middleware.RequestContextMiddleware`
(and by the Celery task prerun hook, so a request id follows its tasks). Secrets never reach
a log: `redact` blanks values under sensitive keys and masks token-shaped strings anywhere.
"""

from __future__ import annotations

import re
from typing import Any

import structlog

REDACTED = "[REDACTED]"

# Keys whose values are never logged, wherever they appear (dict keys, header names, kwargs):
# a key is sensitive when it contains one of SENSITIVE_SUBSTRINGS, or when one of its words
# (split on "_", "-", ".") is one of SENSITIVE_WORDS ("pin" must not catch "shipping").
SENSITIVE_SUBSTRINGS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "apikey",
    "api_key",
    "api-key",
    "signature",
    "cookie",
    "credential",
    "pepper",
    "private",
    "id_number",  # BVN or NIN, whatever the field is called
    "account_number",  # bank accounts: personal data, never in logs or error reports
)
SENSITIVE_WORDS = frozenset({"pin", "bvn", "nin", "otp", "cvv"})
# Keys that match but are safe and useful.
SAFE_KEYS = frozenset(
    {"pin_set", "pin_locked_until", "token_type", "signature_ok", "key_prefix", "idempotency_key"}
)
_WORD_SPLIT = re.compile(r"[_\-.\s]+")

# Token-shaped substrings masked inside any string (messages, tracebacks, URLs).
_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
    re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"),  # Paystack / Stripe
    re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"),
    re.compile(r"\bFLWSECK(?:_TEST)?-[A-Za-z0-9\-]{8,}"),
    re.compile(r"\bCHASECK(?:_TEST)?-[A-Za-z0-9\-]{8,}"),
    re.compile(r"\bamg_(?:live|test)_[A-Za-z0-9]{8,}"),
    # Our own API keys (accounts/api_keys.py): the whole key is masked, the bare 8-character
    # prefix (vtu_live_AbCd1234, no secret in it) stays readable so a log names the key used.
    re.compile(r"\bvtu_(?:live|test)_(?![A-Za-z0-9]{8}\b)[A-Za-z0-9_]{8,}"),
    re.compile(r"(?i)(bearer|token|basic)\s+[A-Za-z0-9\-._~+/=]{8,}"),
]
# Secret-carrying query parameters inside any URL that reaches a log line (a library logging
# the URL it fetched, a path with its query string): the name stays, the value is masked.
_QUERY_SECRET = re.compile(
    r"(?i)((?:^|[?&;])(?:[a-z0-9_\-]*(?:token|secret|password|passwd|signature|api_?key)|key|sig|code|otp|pin|bvn|nin)=)"
    r"(?!%5BREDACTED%5D|\[REDACTED\])[^&#\s\"'<>]+"  # a value already redacted (URL-encoded or not) stays as it is
)


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    if lowered in SAFE_KEYS:
        return False
    if any(part in lowered for part in SENSITIVE_SUBSTRINGS):
        return True
    return any(word in SENSITIVE_WORDS for word in _WORD_SPLIT.split(lowered))


def mask_string(value: str) -> str:
    for pattern in _PATTERNS:
        value = pattern.sub(REDACTED, value)
    return _QUERY_SECRET.sub(r"\g<1>" + REDACTED, value)


def redact_value(value: Any, depth: int = 0, *, max_depth: int = 6) -> Any:
    """Return a copy of `value` with sensitive keys blanked and token-like strings masked.

    Below `max_depth` levels a value is returned as it is (log lines are shallow; an error
    report, deeper, passes a larger bound)."""
    if depth > max_depth:
        return value
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_sensitive_key(k) else redact_value(v, depth + 1, max_depth=max_depth))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v, depth + 1, max_depth=max_depth) for v in value)
    if isinstance(value, str):
        return mask_string(value)
    if isinstance(value, bytes):
        return mask_string(value.decode("utf-8", "replace"))
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: applied to every line, ours and the stdlib's."""
    for key in list(event_dict):
        if key in ("exc_info", "_record", "_from_structlog"):
            continue
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict


def _mask_exception(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Runs after format_exc_info turned the traceback into a string.
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = mask_string(event_dict["exception"])
    return event_dict


def _masked(renderer: Any) -> Any:
    """The console renderer formats tracebacks itself, after `redact` ran: mask the line it
    renders, so a secret in an exception message or a frame is masked in development too."""

    def render(logger: Any, method: str, event_dict: dict[str, Any]) -> str:
        return mask_string(renderer(logger, method, event_dict))

    return render


def build_logging(*, level: str, fmt: str) -> dict[str, Any]:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        final = [structlog.processors.format_exc_info, _mask_exception, renderer]
    else:
        # Plain tracebacks: the default (rich) one prints every frame's local variables, PINs and
        # request bodies included, and wraps lines so a token can be split from its marker.
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
        final = [_masked(renderer)]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
                "foreign_pre_chain": shared,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.server": {"level": "WARNING"},
            "django.db.backends": {"level": "WARNING"},
            "celery": {"level": "INFO"},
        },
    }
