"""Identity: users (e-mail login), transaction PIN state, suspension and KYC tier."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        extra.setdefault("email_verified_at", timezone.now())
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        CUSTOMER = "customer"
        RESELLER = "reseller"

    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=16, blank=True, default="", help_text="E.164, e.g. +2348031234567")
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    google_sub = models.CharField(max_length=255, null=True, blank=True, unique=True)

    kyc_tier = models.PositiveSmallIntegerField(default=0)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    # Transaction PIN: HMAC-SHA256 with a server-side pepper (see accounts/pins.py).
    pin_hash = models.CharField(max_length=64, blank=True, editable=False)
    pin_failed_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    pin_locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kyc_tier__gte=0, kyc_tier__lte=3), name="user_kyc_tier_range"),
            models.UniqueConstraint(fields=["phone"], condition=~Q(phone=""), name="user_phone_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def pin_set(self) -> bool:
        return bool(self.pin_hash)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


# --- Reseller API: keys, callbacks, KYC (accounts/api_keys.py, callbacks.py, kyc.py) ---------


class APIKey(models.Model):
    """A machine credential. Only the SHA-256 of the whole key is stored, found by `prefix`
    (`vtu_live_<8 chars>`, shown in lists); the secret part is shown once at creation."""

    class Scope(models.TextChoices):
        READ = "read"
        PURCHASE = "purchase"
        TRANSFER = "transfer"
        DEPOSIT = "deposit"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)  # sha256 hex of the whole key
    scopes = models.JSONField(default=list)  # a subset of Scope values
    allowed_ips = models.JSONField(default=list, blank=True)  # IPs or CIDRs; empty: any address
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    rolled_over_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rolled_over_from"
    )

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["user", "revoked_at", "expires_at"], name="apikey_user_active_idx")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    def status_at(self, now: Any) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())


class CallbackEndpoint(models.Model):
    """Where a reseller wants events POSTed (outbound; the inbound gateway webhooks are
    payments.WebhookDelivery/WebhookEvent). The signing secret is a shared secret we must be
    able to read back to sign, so it is Fernet-encrypted with a key derived from SECRET_KEY
    (accounts/callback_signing.py); a database dump alone does not reveal it."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="callback_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # a subset of accounts.callbacks.EVENT_TYPES
    secret_encrypted = models.TextField(editable=False)
    secret_hint = models.CharField(max_length=16, blank=True)  # "whsec_ab12…", to tell secrets apart
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    failing_since = models.DateTimeField(null=True, blank=True)  # first failure after the last success
    last_failure_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # deleted by the owner; deliveries kept

    class Meta:
        indexes = [models.Index(fields=["user", "is_active"], name="cbendpoint_user_active_idx")]

    def __str__(self) -> str:
        return self.url

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleted"
        return "active" if self.is_active else "disabled"


class CallbackDelivery(models.Model):
    """One event for one endpoint: the outbox row written in the emitter's transaction.

    `body` is the exact JSON sent on every attempt (same event id, same bytes); the signature
    is made per attempt because it carries the attempt's timestamp. Attempts are claimed by a
    conditional update of `claim_token` (accounts/callbacks.py), so no two workers send the
    same delivery at once; `next_attempt_at` drives retries through the sweeper.
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its next attempt (or being sent)
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # retries exhausted, or the endpoint was disabled or deleted

    endpoint = models.ForeignKey(CallbackEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=160)
    event_type = models.CharField(max_length=32)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)  # every attempt ever made
    round_attempts = models.PositiveIntegerField(default=0)  # attempts since creation or the last re-send
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "callback deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="cbdelivery_endpoint_event_unique"),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False), name="cbdelivery_pending_has_next"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="cbdelivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.endpoint_id}"


class CallbackAttempt(models.Model):
    """One HTTP try of a delivery: the log a reseller and staff read."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        HTTP_ERROR = "http_error"  # answered, but not 2xx (redirects included: never followed)
        TIMEOUT = "timeout"
        CONNECTION_ERROR = "connection_error"
        REFUSED = "refused"  # the SSRF guard refused the address or scheme

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="cbattempt_delivery_number_unique")]

    def __str__(self) -> str:
        return f"#{self.number} {self.outcome} {self.status_code or ''}"


class KYCSubmission(models.Model):
    """A request for a higher KYC tier. The BVN/NIN is never stored: only a masked form for
    people and a keyed HMAC for machines (an 11-digit number is brute-forced from a plain
    hash in seconds; the HMAC key lives outside the database)."""

    class IdType(models.TextChoices):
        BVN = "bvn", "BVN"
        NIN = "nin", "NIN"

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="kyc_submissions")
    id_type = models.CharField(max_length=3, choices=IdType.choices)
    id_number_masked = models.CharField(max_length=16)
    id_number_hmac = models.CharField(max_length=64, db_index=True, editable=False)
    date_of_birth = models.DateField()
    requested_tier = models.PositiveSmallIntegerField()
    document = models.FileField(upload_to="kyc/", max_length=200, blank=True)
    document_content_type = models.CharField(max_length=64, blank=True)
    document_size = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    resubmission_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resubmission"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "KYC submission"
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(status="pending"), name="kyc_one_pending_per_user"),
            models.CheckConstraint(condition=Q(requested_tier__gte=1, requested_tier__lte=3), name="kyc_requested_tier_range"),
            models.CheckConstraint(
                condition=Q(granted_tier__isnull=True) | Q(granted_tier__gte=1, granted_tier__lte=3),
                name="kyc_granted_tier_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_id_type_display()} {self.id_number_masked} ({self.status})"
