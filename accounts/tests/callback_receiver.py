"""A reseller's callback receiver for tests: an HTTPS (or HTTP) server on 127.0.0.1 with a
certificate for a made-up host name signed by a throw-away CA, recording every request.

The sender is pointed at it the way production reaches a reseller: the name resolves
(patched resolver) to the address, the TLS certificate is checked against the name, and the
Host header carries the name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOSTNAME = "hooks.reseller.test"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    scheme: str
    requests: list[Received] = field(default_factory=list)
    # Answers to give, in order: (status, body, extra headers); the last one repeats.
    answers: deque = field(default_factory=lambda: deque([(200, b'{"ok":true}', {})]))
    hang: threading.Event | None = None  # when set to an Event, the handler waits on it (a slow receiver)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/vtu/callbacks") -> str:
        return f"{self.scheme}://{HOSTNAME}:{self.port}{path}"

    def answer(self, *answers: tuple[int, bytes, dict[str, str]]) -> None:
        self.answers = deque(answers)

    def next_answer(self) -> tuple[int, bytes, dict[str, str]]:
        return self.answers.popleft() if len(self.answers) > 1 else self.answers[0]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
            if receiver.hang is not None:
                receiver.hang.wait(timeout=10)
            status, answer, headers = receiver.next_answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA cert, server cert, server key) files; the server cert names HOSTNAME only."""
    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test callbacks CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])).issuer_name(ca_name)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def start(*, tls: tuple[Path, Path] | None) -> Receiver:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(server=server, scheme="https" if tls else "http")
    server.RequestHandlerClass = _handler(receiver)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile=str(tls[0]), keyfile=str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return receiver


def stop(receiver: Receiver) -> None:
    if receiver.hang is not None:
        receiver.hang.set()
    receiver.server.shutdown()
    receiver.server.server_close()


def loopback(_host: str, _port: int) -> list[str]:
    return [str(ipaddress.ip_address("127.0.0.1"))]
