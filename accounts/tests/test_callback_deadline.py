"""One deadline per callback attempt: a receiver that drips its answer, or sends endless
headers, cannot hold an attempt (and a worker) open past CALLBACK_TIMEOUT_SECONDS; the
Celery time limits sit below the claim's lease, so a delivery is never sent twice at once.

The drip server is a plain socket server on loopback; it sleeps between bytes in its own
thread (bounded: it stops after a fixed number of bytes or when the test ends). The test
thread never sleeps: it measures how long `post` took."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import transaction

from accounts import callback_http, callbacks, tasks
from accounts.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from accounts.tests.callback_receiver import HOSTNAME
from accounts.tests.factories import UserFactory

DEADLINE = 1.0
DRIP_EVERY = 0.2
DRIP_BYTES = 40  # 8 s of dripping when nothing stops it: far past the deadline
# The deadline plus generous room for a loaded machine; without the deadline a drip takes 8 s.
WITHIN = DEADLINE + 1.5


class DripServer:
    """Accepts one connection at a time, reads the request, then runs `script(conn, stop)`."""

    def __init__(
        self, script: Callable[[socket.socket, threading.Event], None], tls: ssl.SSLContext | None = None
    ) -> None:
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._script = script
        self._tls = tls
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        if self._tls:
            return f"https://{HOSTNAME}:{self._listener.getsockname()[1]}/cb"
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/cb"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if self._tls:
                        conn = self._tls.wrap_socket(conn, server_side=True)
                    conn.recv(65536)
                    self._script(conn, self.stop)
                except OSError:
                    pass  # the client gave up and closed: what the tests expect

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def drip(conn: socket.socket, stop: threading.Event, data: bytes) -> None:
    for byte in data[:DRIP_BYTES]:
        if stop.wait(DRIP_EVERY):
            return
        conn.sendall(bytes([byte]))


def dripping_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    drip(conn, stop, b"a" * DRIP_BYTES)
    conn.sendall(b"\r\nContent-Length: 2\r\n\r\nok")


def dripping_body(conn: socket.socket, stop: threading.Event) -> None:
    # Connection: close hands the socket to the response (http.client closes the connection).
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % DRIP_BYTES)
    drip(conn, stop, b"b" * DRIP_BYTES)


def endless_headers(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Pad: " + b"p" * 1000 + b"\r\n"
    for _ in range(200):  # 200 KB of headers, well within http.client's own line limits
        if stop.is_set():
            return
        conn.sendall(line)
    conn.sendall(b"Content-Length: 2\r\n\r\nok")


def prompt(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")


@pytest.fixture
def serve(settings, callback_certs, monkeypatch) -> Iterator[Callable[..., DripServer]]:
    """Start drip servers: plain http on 127.0.0.1, or https as hooks.reseller.test (the name
    resolving to loopback and the test CA trusted, as in the receiver fixture)."""
    settings.DEBUG = True  # plain http to loopback
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = True
    settings.CALLBACK_TIMEOUT_SECONDS = DEADLINE
    ca, cert, key = callback_certs
    monkeypatch.setattr(callback_http, "resolve", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(callback_http, "ssl_context", lambda: ssl.create_default_context(cafile=str(ca)))
    servers: list[DripServer] = []

    def start(script: Callable[[socket.socket, threading.Event], None], tls: bool = False) -> DripServer:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=str(cert), keyfile=str(key))
        servers.append(DripServer(script, tls=context))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def timed_post(url: str) -> tuple[callback_http.SendResult, float]:
    started = time.monotonic()
    result = callback_http.post(url, body=b"{}", headers={"Content-Type": "application/json"})
    return result, time.monotonic() - started


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_prompt_receiver_still_succeeds(serve, tls):
    result, _ = timed_post(serve(prompt, tls=tls).url)
    assert (result.outcome, result.status_code, result.response_excerpt) == ("success", 200, '{"ok":true}')


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("script", [dripping_headers, dripping_body], ids=["headers", "body"])
def test_a_dripping_receiver_times_out_at_the_deadline(serve, script, tls):
    result, took = timed_post(serve(script, tls=tls).url)
    assert result.outcome == "timeout", result
    assert DEADLINE * 0.9 <= took < WITHIN, f"the attempt took {took:.1f} s with a {DEADLINE} s deadline"


def test_endless_headers_are_cut_off(serve):
    result, took = timed_post(serve(endless_headers).url)
    assert result.outcome == "connection_error"
    assert "AnswerTooLarge" in result.error
    assert took < WITHIN


@pytest.mark.django_db
def test_a_dripping_receiver_fails_the_attempt_and_schedules_a_retry(serve, clock):
    server = serve(dripping_headers)
    user = UserFactory()
    endpoint = CallbackEndpoint.objects.create(
        user=user, url=server.url, events=["purchase.successful"], secret_encrypted=_encrypted(), secret_hint="whsec_x…"
    )
    started = time.monotonic()
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e-drip", data={})
    took = time.monotonic() - started
    delivery = CallbackDelivery.objects.get(endpoint=endpoint)
    assert CallbackAttempt.objects.get(delivery=delivery).outcome == "timeout"
    assert delivery.status == "pending" and delivery.claim_token == ""
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=callbacks.RETRY_SCHEDULE_SECONDS[0])
    assert took < WITHIN + 1  # plus the database work around the attempt


def _encrypted() -> str:
    from accounts import callback_signing

    return callback_signing.secret_encrypt(callback_signing.secret_generate())


def test_the_time_limits_sit_between_the_http_deadline_and_the_lease(settings):
    """The order that makes a second concurrent send impossible: the HTTP deadline ends the
    exchange, the soft limit anything else, the hard limit the worker; only after that can
    the sweeper take the claim over."""
    soft, hard = tasks.callback_deliver.soft_time_limit, tasks.callback_deliver.time_limit
    assert settings.CALLBACK_TIMEOUT_SECONDS < soft < hard
    assert callbacks.lease() > timedelta(seconds=hard)


@pytest.mark.django_db
def test_the_sweeper_leaves_a_delivery_alone_while_its_attempt_may_run(clock, monkeypatch):
    """An attempt in flight up to the hard time limit keeps its claim: the sweeper does not
    dispatch the delivery a second time."""
    user = UserFactory()
    CallbackEndpoint.objects.create(
        user=user, url="https://hooks.reseller.test/cb", events=["purchase.successful"],
        secret_encrypted=_encrypted(), secret_hint="whsec_x…",
    )
    dispatched: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks.callback_deliver, "delay_on_commit", lambda *args: dispatched.append(args))
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e-busy", data={})
    delivery_id, token = dispatched.pop()
    assert callbacks._claim(delivery_id, token, clock.now) is not None  # the attempt starts (and hangs)
    clock.advance(tasks.callback_deliver.time_limit)
    assert callbacks.callback_deliveries_claim_due() == []  # the worker is dead by now, but the claim holds
    clock.advance(callbacks.LEASE_MARGIN_SECONDS + 1)
    assert [pk for pk, _ in callbacks.callback_deliveries_claim_due()] == [delivery_id]
