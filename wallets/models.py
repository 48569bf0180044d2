"""The double-entry ledger: accounts, journals, entries, holds, adjustments and check results.

Sign convention: an entry's `amount_kobo` is + for a credit and - for a debit. A customer
wallet (a liability of the platform) runs positive; asset-like system accounts (gateway
clearing, provider float, receivables) run negative, which is why system accounts allow a
negative balance. Every journal sums to zero per currency.

Balances change only through `wallets.services` (the posting primitive in
`wallets/services/posting.py`); the database backs every rule it relies on: CHECKs below, and
on PostgreSQL the triggers of migration 0002 (append-only entries and journals, a deferred
"journal balances" check).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class LedgerAccount(models.Model):
    """A customer wallet (one per user and currency) or a system account.

    `balance_kobo`/`held_kobo` are materialised for customer wallets only: they change in the
    same transaction as the entries, by one guarded UPDATE. System accounts are hot (every
    purchase touches provider float and revenue, every deposit a clearing account), so their
    rows are never updated on the posting path: their balance is the sum of their entries
    (reference/ledger.md §2.2, docs/adr/0001-hot-system-accounts.md).
    """

    class Kind(models.TextChoices):
        CUSTOMER = "customer"
        SYSTEM = "system"

    class Status(models.TextChoices):
        ACTIVE = "active"
        FROZEN = "frozen"

    code = models.CharField(max_length=80, unique=True, help_text="wallet:<user id>:<currency>, revenue, float:<provider>, ...")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    number = models.CharField(max_length=10, unique=True, null=True, blank=True, help_text="10-digit wallet number")
    name = models.CharField(max_length=120, blank=True)
    currency = models.CharField(max_length=3)
    balance_kobo = models.BigIntegerField(default=0, editable=False)
    held_kobo = models.BigIntegerField(default=0, editable=False)
    allow_negative = models.BooleanField(default=False, editable=False)
    materialised = models.BooleanField(default=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    frozen_reason = models.TextField(blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    # Customer-initiated outflow (holds for purchases, transfers out) on one Africa/Lagos day,
    # moved by the same guarded UPDATE as the balance (docs/adr/0002-limits.md).
    outflow_day = models.DateField(null=True, blank=True, editable=False)
    outflow_kobo = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(held_kobo__gte=0), name="ledgeraccount_held_nonnegative"),
            # Keyed on the kind, not on allow_negative: a flag on the row cannot switch off the
            # one rule that keeps a customer from spending money they do not have.
            models.CheckConstraint(
                condition=Q(kind="system") | Q(balance_kobo__gte=F("held_kobo")),
                name="ledgeraccount_customer_available_nonnegative",
            ),
            models.CheckConstraint(condition=Q(outflow_kobo__gte=0), name="ledgeraccount_outflow_nonnegative"),
            models.CheckConstraint(
                condition=(
                    Q(kind="customer", user__isnull=False, number__isnull=False, materialised=True, allow_negative=False)
                )
                | Q(kind="system", user__isnull=True),
                name="ledgeraccount_kind_shape",
            ),
            models.CheckConstraint(
                condition=Q(materialised=True) | Q(balance_kobo=0, held_kobo=0),
                name="ledgeraccount_derived_rows_stay_zero",
            ),
            models.UniqueConstraint(
                fields=["user", "currency"], condition=Q(kind="customer"), name="ledgeraccount_one_wallet_per_currency"
            ),
        ]

    def __str__(self) -> str:
        return self.number or self.code

    @property
    def available_kobo(self) -> int:
        return self.balance_kobo - self.held_kobo

    @property
    def is_frozen(self) -> bool:
        return self.status == self.Status.FROZEN


class Journal(models.Model):
    """One balanced posting; its `idempotency_key` is UNIQUE (the list in DESIGN §2)."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"  # fund:<gateway>:<ref>, bankfund:<ref>
        PURCHASE = "purchase"  # capture:<purchase ref>
        REVERSAL = "reversal"  # reversal:<ref>: the exact opposite of an earlier journal
        REFUND = "refund"  # refund:<purchase ref>: paid from the refunds account
        TRANSFER = "transfer"  # transfer:<user id>:<Idempotency-Key>
        ADJUSTMENT = "adjustment"  # adjust:<adjustment id>
        CHARGEBACK = "chargeback"  # chargeback:<gateway>:<ref>
        FEE = "fee"

    idempotency_key = models.CharField(max_length=255)  # UNIQUE: journal_idempotency_key_unique
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reference = models.CharField(max_length=100, blank=True)  # indexed: journal_reference_idx
    memo = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    legs_hash = models.CharField(max_length=64, editable=False)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    actor_kind = models.CharField(max_length=16, blank=True)
    actor_user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    actor_label = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="journal_kind_created_idx"),
            models.Index(fields=["reference"], name="journal_reference_idx"),
        ]
        # Unique keys as constraints rather than unique=True/db_index=True: on PostgreSQL those
        # also build a varchar_pattern_ops index for LIKE, paid on every insert, used by nothing.
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="journal_idempotency_key_unique"),
            # Whatever key a caller builds, one purchase reference is captured once and refunded
            # once (a reversal is once per journal: UNIQUE reversal_of).
            models.UniqueConstraint(
                fields=["reference"], condition=Q(kind="purchase") & ~Q(reference=""),
                name="journal_one_capture_per_reference",
            ),
            models.UniqueConstraint(
                fields=["reference"], condition=Q(kind="refund") & ~Q(reference=""),
                name="journal_one_refund_per_reference",
            ),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class Entry(models.Model):
    """One leg of a journal. Append-only; `balance_after_kobo` is the account's running
    balance right after this entry (materialised accounts only)."""

    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(  # indexed by entry_account_id_idx
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount_kobo = models.BigIntegerField()
    balance_after_kobo = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount_kobo=0), name="entry_amount_nonzero")]
        indexes = [
            models.Index(fields=["account", "id"], name="entry_account_id_idx"),
            models.Index(fields=["account", "created_at"], name="entry_account_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_kobo:+d}"


class Hold(models.Model):
    """Funds reserved on a wallet (two-phase spending). `reference` is the caller's opaque,
    unique reference (a purchase reference). `expires_at` is a review deadline for staff,
    never an automatic release: a purchase whose outcome is unknown keeps its hold."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        CAPTURED = "captured"
        RELEASED = "released"

    account = models.ForeignKey(  # indexed by hold_account_created_idx
        LedgerAccount, on_delete=models.PROTECT, related_name="holds", db_index=False
    )
    reference = models.CharField(max_length=100)  # UNIQUE: hold_reference_unique
    amount_kobo = models.BigIntegerField()
    captured_kobo = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    memo = models.CharField(max_length=255, blank=True)
    # The Lagos day whose outflow counter this hold moved (null when no limit applied); a
    # release gives the amount back to that day's counter only.
    outflow_day = models.DateField(null=True, blank=True)
    capture_journal = models.OneToOneField(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="captured_hold"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="hold_reference_unique"),
            models.CheckConstraint(condition=Q(amount_kobo__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured_kobo__gte=0, captured_kobo__lte=F("amount_kobo")), name="hold_captured_within_amount"
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(resolved_at__isnull=True) & Q(captured_kobo=0))
                | (Q(status="released") & Q(resolved_at__isnull=False) & Q(captured_kobo=0))
                | (Q(status="captured") & Q(resolved_at__isnull=False) & Q(capture_journal__isnull=False)),
                name="hold_status_shape",
            ),
        ]
        indexes = [
            models.Index(fields=["account"], condition=Q(status="active"), name="hold_active_account_idx"),
            models.Index(fields=["account", "created_at"], name="hold_account_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_kobo} {self.status}"


class Adjustment(models.Model):
    """A staff credit or debit of a wallet, with a reason. Above
    ADJUSTMENT_APPROVAL_THRESHOLD_KOBO, alone or with the wallet's other adjustments of the
    Lagos day, it waits for a second, different staff member (docs/ledger.md "Staff
    adjustments")."""

    class Direction(models.TextChoices):
        CREDIT = "credit"
        DEBIT = "debit"

    class Status(models.TextChoices):
        PENDING = "pending_approval"
        POSTED = "posted"
        REJECTED = "rejected"

    account = models.ForeignKey(  # indexed by adjustment_account_created_idx
        LedgerAccount, on_delete=models.PROTECT, related_name="adjustments", db_index=False
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    amount_kobo = models.BigIntegerField()
    reason = models.TextField()
    # A credit for money received by bank transfer carries the bank's reference, normalised
    # (wallets.services.adjustments.bank_reference_normalise): one bank transfer can be
    # credited once (UNIQUE unless rejected, and the journal key bankfund:<reference>).
    bank_reference = models.CharField(max_length=100, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # The request this adjustment answers, so a resubmitted request finds it instead of making
    # a second one: `form:<token>` (the console form's one-time token) or `api:<Idempotency-Key>`.
    # UNIQUE per requester (adjustment_request_key_unique_per_staff).
    request_key = models.CharField(max_length=255, null=True, blank=True, editable=False)
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decision_reason = models.TextField(blank=True)
    journal = models.OneToOneField(Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment")
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Not stored: True when `adjustment_request` found this adjustment under its request key
    # (a resubmitted form, a retried call) instead of making it.
    replayed: bool = False

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_kobo__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="adjustment_reason_required"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="adjustment_maker_is_not_checker",
            ),
            models.CheckConstraint(
                condition=Q(bank_reference__isnull=True) | Q(direction="credit"),
                name="adjustment_bank_reference_on_credits",
            ),
            models.CheckConstraint(
                condition=~Q(status="posted") | Q(journal__isnull=False), name="adjustment_posted_has_journal"
            ),
            # A rejected request never posted, so its reference stays free for a corrected
            # request; a pending or posted one holds it (bankfund:<ref> still refuses a second
            # journal whatever the adjustment rows say).
            models.UniqueConstraint(
                fields=["bank_reference"], condition=~Q(status="rejected"),
                name="adjustment_bank_reference_unique_unless_rejected",
            ),
            # Rejected ones included: a request key names one request, whatever became of it.
            models.UniqueConstraint(
                fields=["requested_by", "request_key"], condition=Q(request_key__isnull=False),
                name="adjustment_request_key_unique_per_staff",
            ),
        ]
        indexes = [
            # The duplicate guard and the day total read one wallet's recent adjustments.
            models.Index(fields=["account", "created_at"], name="adjustment_account_created_idx"),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.pk} {self.direction} {self.amount_kobo}"


class LedgerCheck(models.Model):
    """One run of the invariant checker; the latest row is what metrics and the dashboard show."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    findings = models.JSONField(default=list, blank=True)
    finding_count = models.PositiveIntegerField(default=0)
    frozen_account_ids = models.JSONField(default=list, blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"ledger check {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else self.finding_count}"
