"""transport.never_sent: only failures raised before the request was written are definitive.

The exceptions are built the way requests wraps urllib3's (see requests/adapters.py), so the
classification is checked against the real exception shapes; the refused-port and read-timeout
cases also run over real sockets in test_amigo_fake_e2e.py.
"""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from vtu.providers.transport import never_sent, redacted_url


def wrapped(reason: Exception, kind: type[requests.RequestException] = requests.ConnectionError):
    return kind(MaxRetryError(pool=None, url="/x?APIKey=secret", reason=reason))


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (requests.ConnectTimeout("connect timed out"), False),
        (wrapped(NewConnectionError(None, "Connection refused")), False),
        (wrapped(NameResolutionError("amigo.ng", None, OSError("dns"))), False),
        (requests.ReadTimeout("read timed out"), True),
        (wrapped(ReadTimeoutError(None, "/x", "read timed out"), requests.ReadTimeout), True),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())), True),
        (requests.ConnectionError("RemoteDisconnected"), True),
        (wrapped(NewConnectionError(None, "proxy refused"), requests.exceptions.ProxyError), True),
        (requests.exceptions.SSLError("handshake failure"), True),
        (requests.exceptions.ChunkedEncodingError("broken"), True),
    ],
)
def test_only_connect_failures_count_as_never_sent(exc, sent):
    assert never_sent(exc) is (not sent)


def test_redacted_url_hides_sensitive_and_credential_params():
    url = redacted_url("https://x.test/a", {"RequestID": "r1", "token": "t0k3n"}, ("UserID", "APIKey"))

    assert url == "https://x.test/a?RequestID=r1&token=%5BREDACTED%5D&UserID=%5BREDACTED%5D&APIKey=%5BREDACTED%5D"
    assert redacted_url("https://x.test/a", None) == "https://x.test/a"
