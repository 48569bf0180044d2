"""One HTTP exchange with a vendor, reported as a CallLog, never raising a transport error.

Every adapter sends through `send()`: it applies the (connect, read) timeouts from the
provider's settings entry, goes through `config.http.outbound_request` (which refuses to run
inside a transaction), reports the exchange to `provider.on_call` with secrets redacted, and
turns whatever happened into an `Exchange` the adapter maps to an outcome.

What counts as "never sent" (the only transport failure that may become a definitive FAILED):
- `requests.ConnectTimeout`: urllib3 raises it only when the TCP connect itself timed out
  (`HTTPConnection._new_conn`), before a byte of the request was written;
- a `ConnectionError` whose cause is urllib3's `NewConnectionError` (connection refused,
  host unreachable, DNS failure): also raised from `_new_conn`, before sending.
Everything else is "may have been sent": a read timeout (including a TLS handshake that
stalls, which urllib3 reports as a read timeout: we err on the safe side), a connection reset
or remote disconnect after the request went out, a proxy or TLS error, a 5xx, a body we
cannot parse. requests' default adapter never retries (max_retries=0), so one call is one
send. The exception text is never logged or stored: it carries the full URL, and with it
the query-string credentials of vendors such as ClubKonnect.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from requests.auth import AuthBase
from urllib3.exceptions import NewConnectionError

from config.http import outbound_request
from config.logs import REDACTED, is_sensitive_key, mask_string, redact_value
from vtu.providers.base import CallLog, Provider

MAX_TEXT = 4096

# CallLog.error values
CONNECT_TIMEOUT = "connect_timeout"  # not sent
CONNECTION_REFUSED = "connection_refused"  # not sent (refused, unreachable, DNS)
TIMEOUT = "timeout"  # may have been sent
CONNECTION_ERROR = "connection_error"  # may have been sent
INVALID_JSON = "invalid_json"


@dataclass(frozen=True)
class Exchange:
    status_code: int | None  # None: no HTTP answer at all
    body: Any  # the parsed JSON body, or None
    text: str  # the raw body, truncated
    error: str  # "" or one of the kinds above
    sent: bool  # False only when the request definitively never left

    @property
    def answered(self) -> bool:
        return self.status_code is not None

    @property
    def server_error(self) -> bool:
        return self.status_code is not None and self.status_code >= 500

    @property
    def refused(self) -> bool:
        """401, 403 or 429: the server refused to act on the request (RFC 9110 §15.5.2,
        §15.5.4; RFC 6585 §4): unauthenticated, forbidden (e.g. IP not whitelisted) or rate
        limited, so nothing was bought. Adapters use it when the body says nothing clearer."""
        return self.status_code in (401, 403, 429)


def never_sent(exc: requests.RequestException) -> bool:
    """True only for failures raised before the request was written (see module doc)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, (requests.exceptions.ProxyError, requests.exceptions.SSLError)):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
        return isinstance(reason, NewConnectionError)
    return False


class QueryCredentials(AuthBase):
    """Adds credentials to the query string when the request is prepared, so they are not in
    the `params` that config.http logs, nor in any URL we keep (ClubKonnect's UserID/APIKey)."""

    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = credentials

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, self.credentials)
        return request


def redacted_url(url: str, params: dict[str, Any] | None, secret_names: tuple[str, ...] = ()) -> str:
    shown = {key: (REDACTED if is_sensitive_key(key) else value) for key, value in (params or {}).items()}
    shown.update({name: REDACTED for name in secret_names})
    return mask_string(f"{url}?{urlencode(shown)}" if shown else url)


def send(
    provider: Provider,
    *,
    operation: str,
    method: str,
    url: str,
    request_id: str = "",
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    query_credentials: dict[str, str] | None = None,
) -> Exchange:
    """Send one request and report it; never raises a requests exception.

    `query_credentials` go into the query string at send time only (QueryCredentials) and
    show as [REDACTED] in the CallLog; secret headers are never logged at all."""
    config = provider.config
    timeout = (float(config["CONNECT_TIMEOUT_SECONDS"]), float(config["READ_TIMEOUT_SECONDS"]))
    started = time.perf_counter()
    status, text, error, sent = None, "", "", True
    try:
        extra: dict[str, Any] = {"auth": QueryCredentials(query_credentials)} if query_credentials else {}
        response = outbound_request(
            method, url, service=f"provider:{provider.name}", timeout=timeout,
            params=params, json=json_body, headers=headers, **extra,
        )
        status, text = response.status_code, response.text
    except requests.RequestException as exc:
        sent = not never_sent(exc)
        if not sent:
            error = CONNECT_TIMEOUT if isinstance(exc, requests.ConnectTimeout) else CONNECTION_REFUSED
        else:
            error = TIMEOUT if isinstance(exc, requests.Timeout) else CONNECTION_ERROR
    latency_ms = (time.perf_counter() - started) * 1000
    body = _parse(text) if status is not None else None
    if status is not None and body is None:
        error = INVALID_JSON
    provider.on_call(
        CallLog(
            provider=provider.name,
            operation=operation,
            method=method,
            url=redacted_url(url, params, tuple(query_credentials or ())),
            request_body=redact_value(json_body),
            status_code=status,
            response_body=redact_value(body) if body is not None else mask_string(text[:MAX_TEXT]),
            latency_ms=round(latency_ms, 1),
            error=error,
            request_id=request_id,
        )
    )
    return Exchange(status_code=status, body=body, text=text[:MAX_TEXT], error=error, sent=sent)


def _parse(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None
