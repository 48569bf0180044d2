"""KYC documents on S3-compatible storage: the env wiring, and an upload reaching a local fake
S3 (127.0.0.1) as a private object under a random name."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import KYCSubmission

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 300


def test_s3_bucket_in_env_switches_the_default_storage_to_s3():
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true",
        "DATABASE_URL": "sqlite:///:memory:", "REDIS_URL": "", "S3_BUCKET": "kyc-docs",
        "S3_ENDPOINT_URL": "https://s3.example.test", "S3_REGION": "af-south-1",
    }
    code = (
        "import django; django.setup();"
        "from django.core.files.storage import storages; s = storages['default'];"
        "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.region_name, s.default_acl, s.file_overwrite)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["S3Storage", "kyc-docs", "https://s3.example.test", "af-south-1", "private", "False"]


class FakeS3:
    """Answers HEAD (404: no such key) and PUT (200 with an ETag), the two calls a save makes."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_HEAD(self) -> None:
                fake.requests.append(("HEAD", self.path, dict(self.headers), b""))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                fake.requests.append(("PUT", self.path, dict(self.headers), self._body()))
                self.send_response(200)
                self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_s3(settings) -> Iterator[FakeS3]:
    fake = FakeS3()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "kyc-docs", "endpoint_url": fake.url, "region_name": "us-east-1",
                "access_key": "test-access", "secret_key": "test-secret", "default_acl": "private",
                "file_overwrite": False, "addressing_style": "path",
            },
        },
    }
    yield fake
    fake.close()


@pytest.mark.django_db
def test_a_kyc_document_is_uploaded_to_s3_as_a_private_object(user_client, user, fake_s3):
    document = SimpleUploadedFile("my passport.png", PNG, content_type="image/png")
    response = user_client.post(
        "/api/v1/kyc/submit",
        {"id_type": "nin", "id_number": "12345678901", "date_of_birth": "1991-02-03", "document": document},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    name = KYCSubmission.objects.get().document.name
    assert name.startswith(f"kyc/{user.pk}/") and name.endswith(".png") and "passport" not in name
    [put] = [r for r in fake_s3.requests if r[0] == "PUT"]
    assert put[1] == f"/kyc-docs/{name}"
    assert put[2].get("x-amz-acl") == "private"
    assert PNG in put[3]  # plain, or inside aws-chunked framing with a trailing checksum
