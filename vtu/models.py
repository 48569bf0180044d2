"""Data and airtime: the catalogue, provider routing and health, and purchases (DESIGN §3).

Purchases are a state machine (`Purchase.TRANSITIONS`) moved only by conditional updates in
`vtu.services`, each recorded as a `PurchaseEvent`. A purchase points at its wallet hold by
the hold's unique reference (`hold:<purchase reference>`); `wallets` knows nothing of it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ProductKind(models.TextChoices):
    DATA = "data"
    AIRTIME = "airtime"


class PlanType(models.TextChoices):
    SME = "sme", "SME"
    GIFTING = "gifting", "Gifting"
    CORPORATE = "corporate", "Corporate gifting"


class Network(models.Model):
    """A mobile network. `prefixes` are the national prefixes of its original allocation
    ("0803", "07025"): a hint only, since numbers are ported (NETWORK_MISMATCH unless the
    client says `ported: true`)."""

    code = models.CharField(max_length=16, unique=True)  # MTN | AIRTEL | GLO | 9MOBILE
    name = models.CharField(max_length=64)
    prefixes = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True, help_text="Off: nothing can be bought on this network.")
    airtime_active = models.BooleanField(default=True)
    sme_active = models.BooleanField(default=True, help_text="SME data plans on/off.")
    gifting_active = models.BooleanField(default=True, help_text="Gifting data plans on/off.")
    corporate_active = models.BooleanField(default=True, help_text="Corporate gifting data plans on/off.")
    airtime_min_kobo = models.BigIntegerField(default=5_000)
    airtime_max_kobo = models.BigIntegerField(default=5_000_000)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(airtime_min_kobo__gt=0) & Q(airtime_max_kobo__gte=models.F("airtime_min_kobo")),
                name="network_airtime_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def plan_type_active(self, plan_type: str) -> bool:
        return bool(getattr(self, f"{plan_type}_active", False))


class DataPlan(models.Model):
    """Our stable plan (e.g. MTN_1GB_30D); each provider's id and cost for it is a ProviderPlan."""

    code = models.CharField(max_length=64, unique=True)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=120)
    size_mb = models.PositiveIntegerField()
    validity_days = models.PositiveSmallIntegerField()
    plan_type = models.CharField(max_length=16, choices=PlanType.choices)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["network__sort_order", "plan_type", "size_mb", "validity_days"]
        indexes = [models.Index(fields=["network", "active"], name="dataplan_network_active_idx")]

    def __str__(self) -> str:
        return self.code


class ProviderPlan(models.Model):
    """A provider's id and cost price for one of our plans, with when a sync last saw it.

    `active` is the staff switch; `suspended_at` is set by plan sync when our price would
    fall below this cost (or the provider stopped listing the plan), and cleared by a later
    sync that finds it sellable again. Usable = active and not suspended."""

    provider = models.CharField(max_length=32)
    plan = models.ForeignKey(DataPlan, on_delete=models.CASCADE, related_name="provider_plans")
    provider_plan_id = models.CharField(max_length=64)
    cost_kobo = models.BigIntegerField()
    last_seen_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "plan"], name="providerplan_provider_plan_unique"),
            models.CheckConstraint(condition=Q(cost_kobo__gt=0), name="providerplan_cost_positive"),
        ]
        indexes = [models.Index(fields=["provider", "provider_plan_id"], name="providerplan_vendor_id_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_plan_id} -> {self.plan_id}"

    @property
    def usable(self) -> bool:
        return self.active and self.suspended_at is None


class ProviderPlanCostChange(models.Model):
    """History of a provider plan's cost, written by plan sync (R9: price drift)."""

    provider_plan = models.ForeignKey(ProviderPlan, on_delete=models.CASCADE, related_name="cost_changes")
    old_cost_kobo = models.BigIntegerField(null=True, blank=True)
    new_cost_kobo = models.BigIntegerField()
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.provider_plan_id}: {self.old_cost_kobo} -> {self.new_cost_kobo}"


class Route(models.Model):
    """One provider in the ordered list for a network and product (lower priority first).

    For airtime the provider's cost is `airtime_cost_bps` of the face value (its discount).
    For data, staff can switch the provider off for one plan type on this network (R8: a
    provider's SME plans misbehaving on MTN while its gifting plans work)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="routes")
    product = models.CharField(max_length=16, choices=ProductKind.choices)
    provider = models.CharField(max_length=32)
    priority = models.PositiveSmallIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    airtime_cost_bps = models.PositiveIntegerField(default=10_000, help_text="Airtime cost in basis points of face value.")
    sme_enabled = models.BooleanField(default=True, help_text="Data: send SME plans to this provider.")
    gifting_enabled = models.BooleanField(default=True, help_text="Data: send gifting plans to this provider.")
    corporate_enabled = models.BooleanField(default=True, help_text="Data: send corporate gifting plans to this provider.")

    class Meta:
        ordering = ["network", "product", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["network", "product", "provider"], name="route_unique"),
            models.CheckConstraint(
                condition=Q(airtime_cost_bps__gt=0, airtime_cost_bps__lte=10_000), name="route_airtime_cost_bps_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.network_id}/{self.product}: {self.priority} {self.provider}"

    def plan_type_enabled(self, plan_type: str) -> bool:
        return bool(getattr(self, f"{plan_type}_enabled", False))


class ProviderState(models.Model):
    """Per provider: staff switch, circuit breaker, health score and last known float.

    Breaker: `closed` (send) -> `open` after CIRCUIT_FAILURE_THRESHOLD consecutive failures
    (nothing sent) -> after the cool-down one purchase claims `half_open` and probes; its
    success closes the breaker, its failure opens it again. Every move is a conditional
    update, so two workers cannot both probe. Health (0-100) is recomputed by the sweeper
    from recent attempts, off the request path."""

    class Circuit(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open"

    provider = models.CharField(max_length=32, unique=True)
    enabled = models.BooleanField(default=True, help_text="Staff switch: off sends nothing to this provider.")
    circuit = models.CharField(max_length=16, choices=Circuit.choices, default=Circuit.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    health_score = models.PositiveSmallIntegerField(default=100)
    success_rate_bps = models.PositiveIntegerField(null=True, blank=True)
    latency_p50_ms = models.PositiveIntegerField(null=True, blank=True)
    health_updated_at = models.DateTimeField(null=True, blank=True)
    last_balance_kobo = models.BigIntegerField(null=True, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} ({self.circuit})"


class Purchase(models.Model):
    """One customer purchase; also its own outbox (created `pending` with its hold, then
    dispatched on commit, and re-dispatched by the sweeper via `next_check_at`)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # hold placed, not yet sent
        PROCESSING = "processing"  # sent; provider pending or no definitive answer yet
        SUCCESSFUL = "successful"  # delivered, hold captured
        FAILED = "failed"  # definitively not delivered, hold released ("failed, refunded")
        REVERSED = "reversed"  # provider reversed a delivery; reversal journal posted
        REFUNDED = "refunded"  # staff refund after a dispute; refund journal posted

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.PROCESSING}),
        Status.PROCESSING: frozenset({Status.SUCCESSFUL, Status.FAILED}),
        Status.SUCCESSFUL: frozenset({Status.REVERSED, Status.REFUNDED}),
        Status.FAILED: frozenset(),
        Status.REVERSED: frozenset(),
        Status.REFUNDED: frozenset(),
    }
    OPEN_STATUSES = (Status.PENDING, Status.PROCESSING)

    class Channel(models.TextChoices):
        WEB = "web"  # JWT
        API = "api"  # API key

    reference = models.CharField(max_length=32)  # UNIQUE: purchase_reference_unique
    client_reference = models.CharField(max_length=100, blank=True, default="")
    # The request's Idempotency-Key: if the process dies after this commits but before the
    # API stored its answer, the client's retry finds this purchase instead of buying again.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="purchases", db_index=False
    )  # indexed by purchase_user_idx
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    hold_reference = models.CharField(max_length=48)  # UNIQUE: purchase_hold_reference_unique
    product = models.CharField(max_length=16, choices=ProductKind.choices)
    # No index of their own on network and plan: reports filter by time first
    # (purchase_status_created_idx), and every index is paid on each purchase insert.
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+", db_index=False)
    plan = models.ForeignKey(
        DataPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    phone = models.CharField(max_length=16)  # E.164
    ported = models.BooleanField(default=False)
    face_value_kobo = models.BigIntegerField(null=True, blank=True)  # airtime: what the number receives
    amount_kobo = models.BigIntegerField()  # the customer's price, held then captured
    cost_kobo = models.BigIntegerField()
    margin_kobo = models.BigIntegerField()
    pricing_rule_id = models.BigIntegerField(null=True, blank=True)
    pricing_rule_label = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_attempts = models.PositiveIntegerField(default=0)
    needs_review_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    provider_reference = models.CharField(max_length=128, blank=True)
    message = models.CharField(max_length=500, blank=True)
    token = models.CharField(max_length=200, blank=True)  # electricity token / exam PIN products
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # Unique keys as constraints rather than unique=True: on PostgreSQL a unique CharField
        # also gets a varchar_pattern_ops index for LIKE, which nothing here uses.
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="purchase_reference_unique"),
            models.UniqueConstraint(fields=["hold_reference"], name="purchase_hold_reference_unique"),
            models.UniqueConstraint(
                fields=["user", "client_reference"], condition=~Q(client_reference=""),
                name="purchase_client_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="purchase_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(amount_kobo__gt=0), name="purchase_amount_positive"),
            models.CheckConstraint(condition=Q(cost_kobo__gte=0), name="purchase_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(margin_kobo=models.F("amount_kobo") - models.F("cost_kobo")), name="purchase_margin_sum"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processing", "successful", "failed", "reversed", "refunded"]),
                name="purchase_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(product="data") | Q(plan__isnull=False), name="purchase_data_has_plan"
            ),
        ]
        indexes = [
            # The sweeper's claim: open purchases whose next check is due.
            models.Index(
                fields=["next_check_at"], condition=Q(status__in=["pending", "processing"]),
                name="purchase_due_idx",
            ),
            models.Index(fields=["user", "-id"], name="purchase_user_idx"),  # a user's list, newest first
            models.Index(fields=["user", "phone", "created_at"], name="purchase_duplicate_idx"),
            models.Index(
                fields=["needs_review_at"], condition=Q(needs_review_at__isnull=False), name="purchase_review_idx"
            ),
            models.Index(fields=["phone"], name="purchase_phone_idx"),
            models.Index(fields=["status", "created_at"], name="purchase_status_created_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def capture_key(self) -> str:
        return f"capture:{self.reference}"


class PurchaseEvent(models.Model):
    """One state transition (or a notable step) with its time and cause; append-only."""

    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    cause = models.CharField(max_length=48)  # created | dispatched | provider_success | requery_failed | ...
    detail = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.purchase_id}: {self.from_status or '-'} -> {self.to_status} ({self.cause})"


class ProviderAttempt(models.Model):
    """One try at one provider with its own unique request id.

    `sending` is committed *before* the HTTP call, so a worker killed mid-call leaves an
    attempt the requery finds; the request id is never regenerated for the same attempt."""

    class State(models.TextChoices):
        SENDING = "sending"  # committed before the call; the answer is not recorded yet
        SUCCESS = "success"
        FAILED = "failed"
        PENDING = "pending"
        UNKNOWN = "unknown"

    OPEN_STATES = (State.SENDING, State.PENDING, State.UNKNOWN)

    purchase = models.ForeignKey(
        Purchase, on_delete=models.CASCADE, related_name="attempts", db_index=False
    )  # indexed by attempt_purchase_number_unique
    number = models.PositiveSmallIntegerField()
    provider = models.CharField(max_length=32)
    request_id = models.CharField(max_length=64)  # UNIQUE: attempt_request_id_unique
    provider_plan_id = models.CharField(max_length=64, blank=True)
    cost_kobo = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.SENDING)
    provider_reference = models.CharField(max_length=128, blank=True)
    message = models.CharField(max_length=500, blank=True)
    failover_allowed = models.BooleanField(default=False)
    charged_kobo = models.BigIntegerField(null=True, blank=True)  # what the provider says it charged
    sends = models.PositiveSmallIntegerField(default=1)  # >1 only where resending the same id is safe
    queries = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["purchase", "number"]
        constraints = [
            models.UniqueConstraint(fields=["purchase", "number"], name="attempt_purchase_number_unique"),
            models.UniqueConstraint(fields=["request_id"], name="attempt_request_id_unique"),
            # At most one attempt in flight per purchase: two workers can never both be sending.
            models.UniqueConstraint(
                fields=["purchase"], condition=Q(state__in=["sending", "pending", "unknown"]),
                name="attempt_one_open_per_purchase",
            ),
        ]
        indexes = [models.Index(fields=["provider", "created_at"], name="attempt_provider_created_idx")]

    def __str__(self) -> str:
        return f"{self.request_id} @ {self.provider} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class ProviderCall(models.Model):
    """One HTTP exchange with a provider (from the adapter's CallLog, secrets redacted)."""

    provider = models.CharField(max_length=32)
    operation = models.CharField(max_length=32)
    attempt = models.ForeignKey(ProviderAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=500)
    request_body = models.JSONField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["provider", "created_at"], name="providercall_provider_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.operation} {self.status_code or self.error}"


class ProviderCallback(models.Model):
    """One inbound provider callback, kept for disputes (R6: persist every callback raw).

    Unsigned (VTpass, ClubKonnect), so it never settles money: at most it queues a requery of
    the attempt it names. Forged and unmatched ones are kept too, with the verdict. Cheap and
    capped: one INSERT, the body (or a GET's query string) cut to BODY_EXCERPT_CHARS with
    token-like strings masked, and only the headers in KEPT_HEADERS."""

    BODY_EXCERPT_CHARS = 4096
    KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For", "X-Real-IP")

    class Verdict(models.TextChoices):
        REQUERY_QUEUED = "requery_queued"  # names an open or delivered purchase: requery queued
        REQUERY_RECENT = "requery_recent"  # ... but one was queued for it in the last 30 s
        ALREADY_FINAL = "already_final"  # names a purchase already failed, reversed or refunded
        UNMATCHED = "unmatched"  # names no attempt of ours (forged, or another platform's)
        NO_REQUEST_ID = "no_request_id"  # the body names no request id we can read
        MALFORMED = "malformed"  # not a JSON or form object

    provider = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=8)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)  # excerpt, masked
    body_bytes = models.PositiveIntegerField(default=0)  # the full size received
    request_id = models.CharField(max_length=64, blank=True)
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.SET_NULL, related_name="callbacks")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["provider", "received_at"], name="providercallback_received_idx")]

    def __str__(self) -> str:
        return f"{self.provider} callback {self.pk} {self.verdict}"


class Dispute(models.Model):
    """A customer's complaint about one purchase ("debited but not delivered"), opened through
    the API within DISPUTE_WINDOW_HOURS of the purchase and worked by staff in the console
    (vtu/disputes.py). One per purchase (UNIQUE purchase): a second is ALREADY_DISPUTED.

    Outcomes: `delivered` (staff found it was delivered: evidence recorded, nothing moves),
    `refunded` (staff refunded a delivered purchase: the purchase's one `refund:<ref>`
    journal, paid from the refunds account), `returned` (the money had already come back: the
    purchase failed, or was reversed or refunded, before the dispute was decided)."""

    class Status(models.TextChoices):
        OPEN = "open"
        DELIVERED = "delivered"
        REFUNDED = "refunded"
        RETURNED = "returned"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.DELIVERED, Status.REFUNDED, Status.RETURNED}),
        Status.DELIVERED: frozenset(),
        Status.REFUNDED: frozenset(),
        Status.RETURNED: frozenset(),
    }

    purchase = models.OneToOneField(Purchase, on_delete=models.PROTECT, related_name="dispute")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    evidence = models.TextField(blank=True, help_text="What shows it was delivered (provider reference, portal check).")
    resolution_reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="dispute_reason_required"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "delivered", "refunded", "returned"]), name="dispute_status_valid"
            ),
            # Open: undecided. Decided: when, by whom and why. Delivered: with its evidence.
            models.CheckConstraint(
                condition=(Q(status="open") & Q(resolved_at__isnull=True) & Q(resolution_reason=""))
                | (~Q(status="open") & Q(resolved_at__isnull=False) & ~Q(resolution_reason="")),
                name="dispute_resolution_shape",
            ),
            models.CheckConstraint(condition=~Q(status="delivered") | ~Q(evidence=""), name="dispute_delivered_has_evidence"),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="dispute_user_idx"),
            models.Index(fields=["created_at"], condition=Q(status="open"), name="dispute_open_idx"),
        ]

    def __str__(self) -> str:
        return f"dispute {self.pk} on {self.purchase_id} ({self.status})"
