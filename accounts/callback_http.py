"""Outbound HTTP for reseller callbacks, with an SSRF guard.

A reseller chooses the URL, so a URL is hostile until checked: it could name our own
database, Redis, the cloud metadata service (169.254.169.254) or an admin panel on the
private network, directly or through a DNS name that resolves there (or that changes its
answer between our check and our connect: DNS rebinding). So, on every attempt:

1. https only (plain http only with DEBUG on); no user:password in the URL;
2. resolve the name ourselves; refuse when *any* answer is loopback, private, link-local,
   multicast, reserved, unspecified or otherwise not globally routable (IPv4-mapped, 6to4
   and NAT64 IPv6 forms are unwrapped first);
3. connect to the address we checked (http.client with the socket opened to that IP), while
   the Host header, TLS SNI and certificate check use the name: the address is pinned;
4. follow no redirect (a 3xx is a failed attempt), send no proxy, read at most a few KB of
   the answer;
5. one deadline for the whole attempt (CALLBACK_TIMEOUT_SECONDS from the first connect to
   the last byte read): every socket operation gets only the time left. http.client's own
   timeout is per operation, so a receiver dripping a byte every few seconds would keep an
   attempt open for ever; here it times out when the deadline passes, however it drips.

CALLBACK_ALLOW_PRIVATE_ADDRESSES (tests, local development) admits loopback and private
addresses; link-local, multicast and unspecified stay refused whatever the setting.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import structlog
from django.conf import settings

from config.errors import ApiError
from config.http import assert_no_transaction
from config.logs import mask_string

log = structlog.get_logger("accounts.callbacks")

MAX_RESPONSE_BYTES = 4096  # of the body, kept for the excerpt
# Of the whole answer (status line, headers, body) read from the socket: a receiver sending
# endless headers is cut off here, not at http.client's 100 lines of 64 KB each.
MAX_RECEIVED_BYTES = 32 * 1024
EXCERPT_CHARS = 500
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(ApiError):
    code = "UNSAFE_URL"


class AnswerTooLarge(http.client.HTTPException):
    """The receiver sent more than MAX_RECEIVED_BYTES before its answer was complete."""


class Deadline:
    """The end of an attempt on the monotonic clock; `left()` is what the next socket
    operation may take, or TimeoutError once it has passed."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("The attempt's deadline passed.")
        return left


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


@dataclass(frozen=True)
class SendResult:
    outcome: str  # a CallbackAttempt.Outcome value
    status_code: int | None = None
    latency_ms: int = 0
    response_excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


def parse_target(url: str) -> Target:
    """Scheme, host and port of `url`, or UnsafeURL (checked before any DNS)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("The URL is malformed.") from exc
    allowed = ("https", "http") if settings.DEBUG else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeURL("The callback URL must use https.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise UnsafeURL("The URL needs a host name and no user or password.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests patch this to simulate DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _unwrap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address hidden in an IPv6 form that reaches it (mapped, 6to4, NAT64)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_allowed(address: str) -> bool:
    try:
        ip = _unwrap(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None:
        return False
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    if ip.is_global and not ip.is_reserved:
        return True
    return bool(settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES) and (ip.is_loopback or ip.is_private)


def safe_address(target: Target) -> str:
    """The address to connect to, or UnsafeURL. Refuses when any answer is unsafe, so a
    name with one public and one private answer cannot win by luck."""
    try:
        addresses = resolve(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL("The host name does not resolve.") from exc
    if not addresses:
        raise UnsafeURL("The host name does not resolve.")
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        raise UnsafeURL("The host resolves to a private, loopback or otherwise non-public address.")
    return addresses[0]


def check_url(url: str) -> Target:
    """For endpoint creation: the same checks an attempt makes, answered as 400 UNSAFE_URL."""
    target = parse_target(url)
    safe_address(target)
    return target


def ssl_context() -> ssl.SSLContext:
    """Certificate and host name verification on (tests patch this to trust a test CA)."""
    return ssl.create_default_context()


class _DeadlineReader(io.RawIOBase):
    """The socket as the file http.client reads the answer from: each read may wait only
    for the time left before the deadline, and at most MAX_RECEIVED_BYTES are read in all."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock = sock
        # The socket's own raw file: it keeps the socket open after http.client closes the
        # connection on a `Connection: close` answer (the response then owns the socket).
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
        room = MAX_RECEIVED_BYTES - self._received
        if room <= 0:
            raise AnswerTooLarge(f"The answer is longer than {MAX_RECEIVED_BYTES} bytes.")
        self._sock.settimeout(self._deadline.left())
        count = self._raw.readinto(memoryview(buffer)[:room])
        self._received += count or 0
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What HTTPResponse is given instead of the socket: it only calls makefile("rb")."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _PinnedConnectionMixin:
    """Connect to the checked address within the deadline; read the answer within it too.
    (The send is bounded as well: sendall's timeout covers the whole call, and it is set to
    the time left just before the request is written.)"""

    _address: str
    _deadline: Deadline
    port: int

    def _open_socket(self) -> socket.socket:
        return socket.create_connection((self._address, self.port), self._deadline.left())

    def response_class(self, sock: socket.socket, **kwargs: object) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_DeadlineSocket(sock, self._deadline), **kwargs)  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedConnectionMixin, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, deadline: Deadline) -> None:
        super().__init__(host, port)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedConnectionMixin, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, deadline: Deadline, context: ssl.SSLContext) -> None:
        super().__init__(host, port, context=context)
        self._address = address
        self._deadline = deadline
        self._tls_context = context

    def connect(self) -> None:
        sock = self._open_socket()
        # The handshake as a whole is bounded by the socket timeout (CPython's ssl module
        # keeps one deadline across its reads), so give it only the time left.
        sock.settimeout(self._deadline.left())
        # SNI and certificate host name check use the name, not the pinned address.
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)


def _connection(target: Target, address: str, deadline: Deadline) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, address=address, deadline=deadline, context=ssl_context())
    return _PinnedHTTPConnection(target.host, target.port, address=address, deadline=deadline)


def _excerpt(raw: bytes) -> str:
    return mask_string(raw.decode("utf-8", "replace"))[:EXCERPT_CHARS]


def post(url: str, *, body: bytes, headers: dict[str, str]) -> SendResult:
    """POST `body` to `url` through the guard. Never raises for network trouble: the result
    says what happened (a refused address is outcome "refused")."""
    assert_no_transaction()
    started = time.perf_counter()
    try:
        target = parse_target(url)
        address = safe_address(target)
    except UnsafeURL as exc:
        return SendResult(outcome="refused", error=exc.detail[:200])
    deadline = Deadline(float(settings.CALLBACK_TIMEOUT_SECONDS))
    connection = _connection(target, address, deadline)
    try:
        connection.connect()
        connection.sock.settimeout(deadline.left())
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read(MAX_RESPONSE_BYTES)
        status = response.status
        outcome = "success" if 200 <= status < 300 else "http_error"
        result = SendResult(outcome=outcome, status_code=status, response_excerpt=_excerpt(raw))
    except TimeoutError:
        result = SendResult(outcome="timeout", error="No answer within the timeout.")
    except (OSError, http.client.HTTPException) as exc:
        result = SendResult(outcome="connection_error", error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        connection.close()
    latency_ms = round((time.perf_counter() - started) * 1000)
    log.info("callback_post", url=mask_string(url), outcome=result.outcome, status=result.status_code, ms=latency_ms)
    return replace(result, latency_ms=latency_ms)
