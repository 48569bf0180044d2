"""One settings module for every environment (django-environ).

Every deploy-time value comes from the environment; `.env.example` lists them all with a
one-line comment each. The embedded default (no DATABASE_URL, no REDIS_URL) is SQLite, an
in-process cache and a filesystem Celery broker, which is what `make run` uses.
Production refusals (default SECRET_KEY, sandboxes, empty gateway secrets) live in
`config/startup.py` and run when the app registry is ready, so every process refuses.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 - refused when DEBUG is off
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or DEFAULT_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.views.csrf_failure"  # the envelope on API and probe paths
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
TESTING = env.bool("TESTING", default=False)

INSTALLED_APPS = [
    "backoffice.apps.StaffAdminConfig",  # django.contrib.admin with the staff site (backoffice/site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "config.apps.PlatformConfig",
    "audit",
    "accounts",
    "wallets",
    "pricing",
    "vtu",
    "payments",
    "backoffice",  # last: the top layer (its post-migrate sync needs every app's permissions)
]

MIDDLEWARE = [
    "config.observability.HttpMetricsMiddleware",  # outermost: times every other middleware too
    "config.middleware.RequestContextMiddleware",
    "audit.middleware.RequestLogMiddleware",  # API request log (audit/request_log.py)
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # never hold a transaction across a provider call
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if IS_POSTGRES:
    _timeout_ms = env.int("DB_STATEMENT_TIMEOUT_MS", default=30_000)
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c statement_timeout={_timeout_ms}"
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default=None)
else:
    # SQLite (make run): wait for the writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Take the write lock at BEGIN, so a transaction that reads then writes waits for
            # the busy timeout instead of failing at once with "database is locked" when the
            # worker and the web process write together (Django 5.1+).
            "transaction_mode": "IMMEDIATE",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery --------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="vtu")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

RUN_DIR = Path(env.str("RUN_DIR", default=str(BASE_DIR / ".run")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(RUN_DIR / "broker"),
        "data_folder_out": str(RUN_DIR / "broker"),
        "processed_folder": str(RUN_DIR / "broker-processed"),
        "control_folder": str(RUN_DIR / "control"),
        "store_processed": False,
    }
else:
    # With acks_late a task lost by a dead worker comes back after this many seconds; the
    # sweepers (next_check_at columns) are the real guarantee, this only bounds the delay.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
        "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)  # unit tests only
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "vtu.tasks.*": {"queue": "providers"},
    "payments.tasks.*": {"queue": "webhooks"},
    "accounts.tasks.callback_*": {"queue": "callbacks"},
    "accounts.tasks.email_*": {"queue": "email"},
}
# The general worker's queues; `callbacks` has a worker of its own (docker-compose.yml).
CELERY_WORKER_QUEUES = env.list(
    "CELERY_WORKER_QUEUES", default=["default", "providers", "webhooks", "email"]
)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Logging is ours (config/celery.py _keep_our_logging): JSON lines in worker and beat too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth ----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PIN_PEPPER = env.str("PIN_PEPPER", default="")  # HMAC key for transaction PINs; defaults to SECRET_KEY
PIN_MAX_ATTEMPTS = env.int("PIN_MAX_ATTEMPTS", default=5)
PIN_LOCK_MINUTES = env.int("PIN_LOCK_MINUTES", default=30)
LOGIN_MAX_FAILURES_PER_ACCOUNT_IP = env.int("LOGIN_MAX_FAILURES_PER_ACCOUNT_IP", default=5)
LOGIN_MAX_FAILURES_PER_IP = env.int("LOGIN_MAX_FAILURES_PER_IP", default=30)
LOGIN_LOCK_MINUTES = env.int("LOGIN_LOCK_MINUTES", default=15)
EMAIL_TOKEN_MAX_AGE_HOURS = env.int("EMAIL_TOKEN_MAX_AGE_HOURS", default=48)
PASSWORD_RESET_MAX_AGE_MINUTES = env.int("PASSWORD_RESET_MAX_AGE_MINUTES", default=60)
PASSWORD_RESET_TIMEOUT = PASSWORD_RESET_MAX_AGE_MINUTES * 60
REQUIRE_VERIFIED_EMAIL = env.bool("REQUIRE_VERIFIED_EMAIL", default=True)  # log-in needs a verified e-mail
FRONTEND_URL = env.str("FRONTEND_URL", default="").rstrip("/")  # where links in e-mails point; SITE_URL when empty
GOOGLE_OAUTH_CLIENT_IDS = env.list("GOOGLE_OAUTH_CLIENT_IDS", default=[])
GOOGLE_CERTS_URL = env.str("GOOGLE_CERTS_URL", default="https://www.googleapis.com/oauth2/v1/certs")
STAFF_SESSION_AGE_MINUTES = env.int("STAFF_SESSION_AGE_MINUTES", default=120)
SESSION_COOKIE_AGE = STAFF_SESSION_AGE_MINUTES * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
STAFF_2FA_REQUIRED = env.bool("STAFF_2FA_REQUIRED", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="VTU back office")  # the name authenticator apps show
# Never show a device's key or QR code in the admin (it would clone the second factor); the
# console's device page is read-only anyway (backoffice/admin_otp.py).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# --- API -----------------------------------------------------------------------------------
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "accounts.authentication.APIKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "config.api.permissions.NotSuspendedForWrites",
        "config.api.permissions.APIKeyScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttles.UserRateThrottle",
        "config.api.throttles.AnonRateThrottle",
        "config.api.throttles.APIKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="120/min"),
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="10/min"),
        "login_email": env.str("THROTTLE_LOGIN_EMAIL", default="10/min"),
        "register": env.str("THROTTLE_REGISTER", default="5/min"),
        "forgot_password": env.str("THROTTLE_FORGOT_PASSWORD", default="5/min"),
        "email_action": env.str("THROTTLE_EMAIL_ACTION", default="10/min"),
        "api_key": env.str("THROTTLE_API_KEY", default="600/min"),
    },
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "URL_FORMAT_OVERRIDE": "format",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "VTU platform API",
    "DESCRIPTION": (
        "Wallet, funding, data and airtime API. Errors use one envelope: "
        '`{"detail": "...", "error_code": "...", "errors": {...}}`; the error codes and their '
        "HTTP statuses are listed under `x-error-codes`. Amounts are integer kobo."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_codes",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # One name for the data/airtime choice set used by vtu (product) and pricing (kind).
    "ENUM_NAME_OVERRIDES": {"ProductKindEnum": "pricing.models.PricingRule.Kind"},
    # Printed in development; the schema tests turn them on and fail on any.
    "DISABLE_ERRORS_AND_WARNINGS": not DEBUG,
    # Swagger UI and ReDoc assets from the pinned sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ORIGINS", default=[])

# --- Money, limits, pricing -----------------------------------------------------------------
WALLET_CURRENCY = env.str("WALLET_CURRENCY", default="NGN")
# A staff adjustment above this, or one that takes the wallet's adjustments of the Lagos day
# above it, waits for a second staff member (docs/ledger.md "Staff adjustments").
ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = env.int("ADJUSTMENT_APPROVAL_THRESHOLD_KOBO", default=5_000_000)
# The same staff member asking again for the same credit or debit of the same wallet within
# this many seconds is refused (DUPLICATE_ADJUSTMENT) unless confirmed; 0 switches it off.
ADJUSTMENT_DUPLICATE_WINDOW_SECONDS = env.int("ADJUSTMENT_DUPLICATE_WINDOW_SECONDS", default=600)
# A customer may dispute a purchase this many hours after making it (once per purchase).
DISPUTE_WINDOW_HOURS = env.int("DISPUTE_WINDOW_HOURS", default=72)
# Ledger postings: lock wait per statement, bounded retries of a deadlock/lock timeout, and
# the review deadline set on a hold (never an automatic release).
WALLET_LOCK_TIMEOUT_MS = env.int("WALLET_LOCK_TIMEOUT_MS", default=2000)
WALLET_DEADLOCK_RETRIES = env.int("WALLET_DEADLOCK_RETRIES", default=3)
HOLD_REVIEW_HOURS = env.int("HOLD_REVIEW_HOURS", default=48)
LEDGER_CHECK_FREEZE = env.bool("LEDGER_CHECK_FREEZE", default=True)  # the checker freezes affected wallets
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)  # bench/ URLs (benchmark runs only)
# Per KYC tier: single transaction maximum, daily outflow (Africa/Lagos day), maximum balance.
KYC_TIER_LIMITS_KOBO = {
    0: {
        "single": env.int("TIER0_SINGLE_KOBO", default=5_000_000),
        "daily": env.int("TIER0_DAILY_KOBO", default=5_000_000),
        "max_balance": env.int("TIER0_MAX_BALANCE_KOBO", default=30_000_000),
    },
    1: {
        "single": env.int("TIER1_SINGLE_KOBO", default=10_000_000),
        "daily": env.int("TIER1_DAILY_KOBO", default=30_000_000),
        "max_balance": env.int("TIER1_MAX_BALANCE_KOBO", default=100_000_000),
    },
    2: {
        "single": env.int("TIER2_SINGLE_KOBO", default=50_000_000),
        "daily": env.int("TIER2_DAILY_KOBO", default=200_000_000),
        "max_balance": env.int("TIER2_MAX_BALANCE_KOBO", default=1_000_000_000),
    },
    3: {
        "single": env.int("TIER3_SINGLE_KOBO", default=200_000_000),
        "daily": env.int("TIER3_DAILY_KOBO", default=2_000_000_000),
        "max_balance": env.int("TIER3_MAX_BALANCE_KOBO", default=10_000_000_000),
    },
}
PRICE_ROUNDING_STEP_KOBO = env.int("PRICE_ROUNDING_STEP_KOBO", default=100)

# --- Integrations: gateways and providers ---------------------------------------------------
# Each entry: ENABLED is derived (credentials present and currency matches the wallet);
# REQUIRED lists the keys that must be non-empty when the integration is enabled in
# production. config/startup.py enforces it for every entry, refuses an entry whose
# <NAME>_ENABLED=true cannot be honoured, and refuses any SANDBOX entry when DEBUG is off.
FUND_MIN_KOBO = env.int("FUND_MIN_KOBO", default=10_000)
FUND_MAX_KOBO = env.int("FUND_MAX_KOBO", default=100_000_000)


def _switch(name: str) -> bool | None:
    """An on/off variable that may be left empty: unset or empty is None ("decide from the
    credentials"), so a copied .env.example never switches an integration off by accident."""
    return None if not env.str(name, default="").strip() else env.bool(name)


def _gateway(
    name: str, *, currency: str, fee_bearer: str = "customer", base_url: str, signs_with_secret_key: bool = False,
    extra: dict | None = None, **keys: str,
) -> dict:
    upper = name.upper()
    entry: dict = {
        "NAME": name,
        "BASE_URL": env.str(f"{upper}_BASE_URL", default=base_url).rstrip("/"),
        "CURRENCY": env.str(f"{upper}_CURRENCY", default=currency),
        "FEE_BEARER": env.str(f"{upper}_FEE_BEARER", default=fee_bearer),
        "MODE": env.str(f"{upper}_MODE", default="test"),
        "TIMEOUT_SECONDS": env.float(f"{upper}_TIMEOUT_SECONDS", default=15.0),
        "SANDBOX": False,
    }
    for key, default in keys.items():
        entry[key] = env.str(f"{upper}_{key}", default=default)
    if signs_with_secret_key and not entry["WEBHOOK_SECRET"]:
        # Paystack and Monnify sign their webhooks with the secret key itself (reference
        # gateways.md §1, §3): an empty <NAME>_WEBHOOK_SECRET means "the secret key".
        entry["WEBHOOK_SECRET"] = entry["SECRET_KEY"]
    required = [k for k in keys if k not in ("PUBLIC_KEY", "CONTRACT_CODE_OPTIONAL")]
    entry["REQUIRED"] = required
    entry.update(extra or {})
    credentials_present = bool(entry[required[0]]) if required else False
    # True/False when <NAME>_ENABLED is set, None when not: an explicit "true" that cannot be
    # honoured (a secret empty, another currency) is refused at start-up, never silently off.
    entry["ENABLED_SETTING"] = _switch(f"{upper}_ENABLED")
    entry["ENABLED"] = (
        entry["ENABLED_SETTING"] is not False
        and credentials_present
        and entry["CURRENCY"] == WALLET_CURRENCY
    )
    return entry


def _payment_gateways() -> dict:
    """Built from the environment each call (tests re-read it)."""
    return {
        "paystack": _gateway(
            "paystack", currency="NGN", base_url="https://api.paystack.co", signs_with_secret_key=True,
            # Dedicated accounts: the bank Paystack assigns from (empty: wema-bank live, test-bank in test).
            extra={"PREFERRED_BANK": env.str("PAYSTACK_PREFERRED_BANK", default="")},
            SECRET_KEY="", PUBLIC_KEY="", WEBHOOK_SECRET="",
        ),
        "flutterwave": _gateway(
            "flutterwave", currency="NGN", base_url="https://api.flutterwave.com/v3",
            SECRET_KEY="", PUBLIC_KEY="", WEBHOOK_SECRET="",
        ),
        "monnify": _gateway(
            "monnify", currency="NGN", base_url="https://sandbox.monnify.com", signs_with_secret_key=True,
            API_KEY="", SECRET_KEY="", CONTRACT_CODE="", WEBHOOK_SECRET="",
        ),
        "stripe": _gateway(
            "stripe", currency="NGN", base_url="https://api.stripe.com/v1",
            extra={"TOLERANCE_SECONDS": env.int("STRIPE_TOLERANCE_SECONDS", default=300)},
            SECRET_KEY="", PUBLIC_KEY="", WEBHOOK_SECRET="",
        ),
        "chapa": _gateway(
            "chapa", currency="ETB", base_url="https://api.chapa.co/v1",
            SECRET_KEY="", WEBHOOK_SECRET="",
        ),
        "mercadopago": _gateway(
            "mercadopago", currency="BRL", base_url="https://api.mercadopago.com",
            ACCESS_TOKEN="", WEBHOOK_SECRET="",
        ),
    }


PAYMENT_GATEWAYS = _payment_gateways()
PAYMENT_GATEWAYS["sandbox"] = {
    "NAME": "sandbox",
    "BASE_URL": SITE_URL,
    "CURRENCY": WALLET_CURRENCY,
    "FEE_BEARER": env.str("SANDBOX_GATEWAY_FEE_BEARER", default="platform"),
    "MODE": "test",
    "TIMEOUT_SECONDS": 5.0,
    "SANDBOX": True,
    "WEBHOOK_SECRET": env.str("SANDBOX_GATEWAY_WEBHOOK_SECRET", default="sandbox-gateway-secret"),
    "REQUIRED": ["WEBHOOK_SECRET"],
    "ENABLED": env.bool("SANDBOX_GATEWAY_ENABLED", default=False),
}


def _provider(name: str, *, base_url: str, **keys: str) -> dict:
    upper = name.upper()
    entry: dict = {
        "NAME": name,
        "BASE_URL": env.str(f"{upper}_BASE_URL", default=base_url).rstrip("/"),
        "CONNECT_TIMEOUT_SECONDS": env.float(f"{upper}_CONNECT_TIMEOUT_SECONDS", default=5.0),
        "READ_TIMEOUT_SECONDS": env.float(f"{upper}_READ_TIMEOUT_SECONDS", default=30.0),
        "SANDBOX": False,
    }
    for key, default in keys.items():
        entry[key] = env.str(f"{upper}_{key}", default=default)
    entry["REQUIRED"] = list(keys)
    entry["ENABLED_SETTING"] = _switch(f"{upper}_ENABLED")  # as for gateways
    entry["ENABLED"] = entry["ENABLED_SETTING"] is not False and all(entry[k] for k in keys)
    return entry


VTU_PROVIDERS = {
    "amigo": _provider("amigo", base_url="https://amigo.ng/api", API_KEY=""),
    "vtpass": _provider(
        "vtpass", base_url="https://sandbox.vtpass.com/api",
        API_KEY="", PUBLIC_KEY="", SECRET_KEY="",
    ),
    "clubkonnect": _provider(
        "clubkonnect", base_url="https://www.nellobytesystems.com", USER_ID="", API_KEY="",
    ),
}
# Optional per-provider settings (not credentials; see docs/providers.md).
VTU_PROVIDERS["amigo"]["PLAN_TYPE"] = env.str("AMIGO_PLAN_TYPE", default="corporate")
VTU_PROVIDERS["vtpass"]["NOT_FOUND_GRACE_SECONDS"] = env.int("VTPASS_NOT_FOUND_GRACE_SECONDS", default=900)
VTU_PROVIDERS["clubkonnect"]["CALLBACK_URL"] = env.str("CLUBKONNECT_CALLBACK_URL", default="")
VTU_PROVIDERS["sandbox"] = {
    "NAME": "sandbox",
    "BASE_URL": "",
    "CONNECT_TIMEOUT_SECONDS": 1.0,
    "READ_TIMEOUT_SECONDS": 5.0,
    "SANDBOX": True,
    "REQUIRED": [],
    "ENABLED": env.bool("SANDBOX_PROVIDER_ENABLED", default=False),
    # Seconds the sandbox waits before a "slow" number answers (see docs/sandbox.md).
    "SLOW_SECONDS": env.float("SANDBOX_PROVIDER_SLOW_SECONDS", default=3.0),
    # Seconds a "pending then ..." sandbox purchase stays pending before a query settles it.
    "PENDING_SECONDS": env.float("SANDBOX_PROVIDER_PENDING_SECONDS", default=20.0),
}
PURCHASE_SLA_MINUTES = env.int("PURCHASE_SLA_MINUTES", default=30)
# Aging alerts on purchases still without a final answer (R5): a warning, then a critical one.
PURCHASE_AGING_WARNING_MINUTES = env.int("PURCHASE_AGING_WARNING_MINUTES", default=15)
PURCHASE_AGING_CRITICAL_MINUTES = env.int("PURCHASE_AGING_CRITICAL_MINUTES", default=120)
DUPLICATE_PURCHASE_WINDOW_SECONDS = env.int("DUPLICATE_PURCHASE_WINDOW_SECONDS", default=180)
LOW_FLOAT_ALERT_KOBO = env.int("LOW_FLOAT_ALERT_KOBO", default=5_000_000)
# A provider whose last checked float is below this is skipped by routing (R8, R10: route away
# before it answers "low balance") until a balance check finds it topped up.
PROVIDER_MIN_FLOAT_KOBO = env.int("PROVIDER_MIN_FLOAT_KOBO", default=100_000)
# Circuit breaker per provider: open after this many provider-side failures in a row, probe
# again (one purchase) after the cool-down.
PROVIDER_CIRCUIT_FAILURES = env.int("PROVIDER_CIRCUIT_FAILURES", default=5)
PROVIDER_CIRCUIT_COOLDOWN_SECONDS = env.int("PROVIDER_CIRCUIT_COOLDOWN_SECONDS", default=60)
# Seconds a process reuses its copy of the catalogue and routing tables (vtu/services/snapshot.py);
# a staff switch reaches every process within this time. 0 reads them on every purchase.
VTU_CATALOGUE_CACHE_SECONDS = env.float("VTU_CATALOGUE_CACHE_SECONDS", default=5.0)

# --- Outbound callbacks to resellers --------------------------------------------------------
CALLBACK_ALLOW_PRIVATE_ADDRESSES = env.bool("CALLBACK_ALLOW_PRIVATE_ADDRESSES", default=False)
CALLBACK_TIMEOUT_SECONDS = env.float("CALLBACK_TIMEOUT_SECONDS", default=10.0)
CALLBACK_MAX_ENDPOINTS = env.int("CALLBACK_MAX_ENDPOINTS", default=5)  # per user
CALLBACK_DISABLE_AFTER_DAYS = env.int("CALLBACK_DISABLE_AFTER_DAYS", default=3)  # failing this long: disabled

# --- Reseller API keys and KYC (accounts/api_keys.py, accounts/kyc.py) ----------------------
API_KEY_MAX_ACTIVE = env.int("API_KEY_MAX_ACTIVE", default=5)
API_KEY_MODE = env.str("API_KEY_MODE", default="test" if DEBUG else "live")  # the marker in vtu_<mode>_...
API_KEY_DEFAULT_EXPIRY_DAYS = env.int("API_KEY_DEFAULT_EXPIRY_DAYS", default=365)
# HMAC key for BVN/NIN digests (dedupe without storing the number). Required with DEBUG off
# (config/startup.py); SECRET_KEY-derived when empty, for development only.
KYC_IDENTITY_HMAC_KEY = env.str("KYC_IDENTITY_HMAC_KEY", default="")
KYC_DOCUMENT_MAX_BYTES = env.int("KYC_DOCUMENT_MAX_BYTES", default=DATA_UPLOAD_MAX_MEMORY_SIZE)

# --- E-mail, alerts --------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="VTU <no-reply@example.com>")
OPS_ALERT_EMAILS = env.list("OPS_ALERT_EMAILS", default=[])

# --- Files --------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploads (KYC ID documents) on S3-compatible storage when a bucket is set (AWS S3, Cloudflare R2,
# MinIO, Spaces...): private objects, never overwritten; staff read them through the admin. Empty
# keys use boto3's own credential chain (instance role, AWS_* env). Else local files in MEDIA_ROOT.
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("S3_PREFIX", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# --- i18n -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Africa/Lagos"  # shown in Lagos time; stored in UTC (USE_TZ)
USE_I18N = True
USE_TZ = True

# --- Security (production) ----------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# /healthz and /readyz answer plain HTTP to a load balancer inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Observability ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_REQUESTS = env.bool("LOG_REQUESTS", default=True)  # one line per request (no bodies)
# API request log table (audit.RequestLog; never bodies): 2xx/3xx sampled and batched, 4xx/5xx always, at once.
REQUEST_LOG_ENABLED = env.bool("REQUEST_LOG_ENABLED", default=True)
REQUEST_LOG_PATH_PREFIXES = env.list("REQUEST_LOG_PATH_PREFIXES", default=["/api/"])
REQUEST_LOG_SAMPLE_RATE = env.float("REQUEST_LOG_SAMPLE_RATE", default=1.0)
REQUEST_LOG_BATCH_SIZE = env.int("REQUEST_LOG_BATCH_SIZE", default=50)
REQUEST_LOG_FLUSH_SECONDS = env.float("REQUEST_LOG_FLUSH_SECONDS", default=5.0)
REQUEST_LOG_RETENTION_DAYS = env.int("REQUEST_LOG_RETENTION_DAYS", default=30)
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
SENTRY_DSN = env.str("SENTRY_DSN", default="")

from config.logs import build_logging  # noqa: E402 - needs LOG_* above

LOGGING = build_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
