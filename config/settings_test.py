"""Test settings: PostgreSQL and Redis, never SQLite; eager Celery; a private Redis space.

DATABASE_URL / REDIS_URL are used when set, else 127.0.0.1 (this machine and CI). The suite
refuses to run on anything but PostgreSQL. Redis is moved to its own DB index
(TEST_REDIS_DB, default 15) with a per-run key prefix, so a test run never touches the
data of a running platform, nor of another test run.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vtu")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["TESTING"] = "true"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("PIN_PEPPER", "test-pin-pepper-0123456789")
os.environ.setdefault("KYC_IDENTITY_HMAC_KEY", "test-kyc-identity-hmac-key-0123456789")
os.environ.setdefault("LOG_FORMAT", "json")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def _test_redis_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + os.environ.get("TEST_REDIS_DB", "15")))


os.environ["REDIS_URL"] = _test_redis_url(os.environ["REDIS_URL"])
os.environ["REDIS_KEY_PREFIX"] = f"test:{uuid.uuid4().hex[:12]}"

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, REST_FRAMEWORK  # noqa: E402

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("The test suite runs on PostgreSQL only: set DATABASE_URL to a postgres:// URL")

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["config.test_hashers.FastArgon2PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Rates high enough that only the throttle tests (which lower them) ever see a 429.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {scope: "100000/min" for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
SECURE_SSL_REDIRECT = False
LOG_REQUESTS = True
