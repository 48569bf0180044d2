"""Wallet funding: deposits, inbound webhook deliveries and events, virtual accounts.

The guarantees live in constraints: a Deposit's reference is unique (and so is its journal
key, `fund:<gateway>:<reference>`, in wallets); one gateway transaction backs at most one
credited deposit; a refund or chargeback is posted once per deposit (DepositReversal) and
never more than was paid; a WebhookEvent is unique per gateway and dedupe key and is only
ever created from an authenticated delivery, so a forgery cannot pre-empt the genuine
event; a virtual account number is unique per gateway.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Deposit(models.Model):
    class Status(models.TextChoices):
        INITIALIZED = "initialized"
        SUCCESSFUL = "successful"
        FAILED = "failed"
        ABANDONED = "abandoned"
        NEEDS_REVIEW = "needs_review"  # under/over-payment, wrong currency: staff decide
        REVERSED = "reversed"  # refund or chargeback after success

    class Source(models.TextChoices):
        CHECKOUT = "checkout"
        VIRTUAL_ACCOUNT = "virtual_account"

    # Allowed moves (one transition service, conditional updates). A verified success still
    # moves failed/abandoned to successful: a late payment is real money.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.INITIALIZED: frozenset({Status.SUCCESSFUL, Status.FAILED, Status.ABANDONED, Status.NEEDS_REVIEW}),
        Status.FAILED: frozenset({Status.SUCCESSFUL, Status.NEEDS_REVIEW}),
        Status.ABANDONED: frozenset({Status.SUCCESSFUL, Status.FAILED, Status.NEEDS_REVIEW}),
        Status.NEEDS_REVIEW: frozenset({Status.SUCCESSFUL, Status.FAILED}),
        Status.SUCCESSFUL: frozenset({Status.REVERSED}),
        Status.REVERSED: frozenset(),
    }

    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="deposits")
    gateway = models.CharField(max_length=20)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CHECKOUT)
    # Ours; only [A-Za-z0-9-.=] so Paystack accepts it. For virtual-account transfers it is
    # derived from the gateway's transaction reference (deterministic, so re-deliveries match).
    reference = models.CharField(max_length=100, unique=True)
    amount_kobo = models.BigIntegerField(help_text="What the customer was asked to pay (checkout) or paid (transfer).")
    paid_kobo = models.BigIntegerField(null=True, blank=True, help_text="What the gateway's verify says was paid.")
    fee_kobo = models.BigIntegerField(default=0, help_text="The gateway's fee, posted to the fees account.")
    credited_kobo = models.BigIntegerField(null=True, blank=True, help_text="What reached the wallet.")
    # What the gateway took back so far (refunds and lost disputes, in the payer's terms);
    # the deposit is `reversed` once this reaches paid_kobo (docs/adr/0005-deposit-reversals.md).
    reversed_kobo = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="NGN")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INITIALIZED, db_index=True)
    status_reason = models.TextField(blank=True)
    gateway_reference = models.CharField(max_length=128, blank=True, help_text="Checkout id (cs_..., MNFY|...).")
    gateway_transaction_id = models.CharField(max_length=128, blank=True, db_index=True)
    authorization_url = models.URLField(max_length=1000, blank=True)
    virtual_account = models.ForeignKey(
        "payments.VirtualAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="deposits"
    )
    journal_key = models.CharField(max_length=160, blank=True)
    # A transfer into a virtual account: True when the notification that named the account
    # was signed over its body (so the gateway itself said which account was paid). When it
    # was not (Flutterwave's legacy verif-hash), the verify answer must name the account.
    account_link_signed = models.BooleanField(default=False)
    # Recovery sweep: when to ask the gateway again (claimed FOR UPDATE SKIP LOCKED).
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_kobo__gt=0), name="deposit_amount_positive"),
            models.CheckConstraint(condition=Q(fee_kobo__gte=0), name="deposit_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(credited_kobo__isnull=True) | Q(credited_kobo__gte=0), name="deposit_credited_not_negative"
            ),
            # A successful deposit always says what it credited.
            models.CheckConstraint(
                condition=~Q(status="successful") | Q(credited_kobo__isnull=False),
                name="deposit_successful_has_credit",
            ),
            # Never more taken back than was paid; only a credited deposit is reversed.
            models.CheckConstraint(
                condition=Q(reversed_kobo=0) | (Q(reversed_kobo__gt=0) & Q(reversed_kobo__lte=models.F("paid_kobo"))),
                name="deposit_reversed_within_paid",
            ),
            # One gateway transaction backs at most one credit. Only credited deposits count:
            # an unverified claim (a transfer deposit opened from a notification body) must not
            # be able to block the genuine deposit from crediting.
            models.UniqueConstraint(
                fields=["gateway", "gateway_transaction_id"],
                condition=~Q(gateway_transaction_id="") & Q(status__in=["successful", "reversed"]),
                name="deposit_one_credit_per_gateway_transaction",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_check_at"], name="deposit_due_idx"),
            models.Index(fields=["user", "-created_at"], name="deposit_user_idx"),
            # Refunds and virtual-account transfers name the gateway's reference.
            models.Index(fields=["gateway", "gateway_reference"], name="deposit_gateway_reference_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.gateway} {self.amount_kobo} {self.status}"


class DepositReversal(models.Model):
    """One refund or lost dispute of a credited deposit, posted once: UNIQUE (deposit, key),
    key = the gateway's refund/dispute id (journal `chargeback:<gateway>:<reference>:<key>`)."""

    class Kind(models.TextChoices):
        REFUND = "refund"
        CHARGEBACK = "chargeback"

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="reversals")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=120)
    cumulative = models.BooleanField(default=False, help_text="Posted from a running total of refunds.")
    amount_kobo = models.BigIntegerField(help_text="What the gateway took back (payer's terms).")
    wallet_kobo = models.BigIntegerField(help_text="Taken from the wallet (what was available, the rest owed).")
    revenue_kobo = models.BigIntegerField(default=0, help_text="The recovered fee given back (customer bears fee).")
    journal_key = models.CharField(max_length=255)
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deposit", "key"], name="deposit_reversal_unique_key"),
            models.CheckConstraint(condition=Q(amount_kobo__gt=0), name="deposit_reversal_amount_positive"),
            models.CheckConstraint(
                condition=Q(wallet_kobo__gte=0) & Q(revenue_kobo__gte=0)
                & Q(amount_kobo=models.F("wallet_kobo") + models.F("revenue_kobo")),
                name="deposit_reversal_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deposit_id} {self.kind} {self.key} {self.amount_kobo}"


class WebhookDelivery(models.Model):
    """One inbound POST, forged ones included (no uniqueness): the raw evidence."""

    class Verdict(models.TextChoices):
        RECEIVED = "received"  # stored, not judged yet (a crash right here leaves this)
        ACCEPTED = "accepted"  # authenticated; a new event was stored
        DUPLICATE = "duplicate"  # authenticated; the event was already stored
        IGNORED = "ignored"  # authenticated; nothing for us (test event on a live account...)
        REJECTED_SIGNATURE = "rejected_signature"
        REJECTED_MALFORMED = "rejected_malformed"

    gateway = models.CharField(max_length=20, db_index=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    query = models.JSONField(default=dict, blank=True)
    body = models.BinaryField()
    verdict = models.CharField(max_length=24, choices=Verdict.choices, default=Verdict.RECEIVED, db_index=True)
    reason = models.TextField(blank=True)
    event = models.ForeignKey(
        "payments.WebhookEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )

    class Meta:
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.gateway} delivery {self.pk} {self.verdict}"


class WebhookEvent(models.Model):
    """One logical gateway event, created only from an authenticated delivery."""

    class Outcome(models.TextChoices):
        PENDING = "pending"
        CREDITED = "credited"
        ALREADY_CREDITED = "already_credited"
        FAILED_DEPOSIT = "failed_deposit"  # the gateway confirmed a failure
        NOT_PAID = "not_paid"  # the verify does not (yet) say paid: the sweep asks again
        NEEDS_REVIEW = "needs_review"
        ORPHAN = "orphan"  # no deposit or virtual account matches
        REVERSED = "reversed"
        IGNORED = "ignored"
        ERROR = "error"  # a transient failure; retried by the task and the sweep

    gateway = models.CharField(max_length=20)
    dedupe_key = models.CharField(max_length=255)
    event_type = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    reference = models.CharField(max_length=128, blank=True, db_index=True)
    gateway_transaction_id = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # The first delivery's signature covered the body (False: origin only, e.g. Flutterwave's
    # verif-hash): amounts in it are then never used without asking the gateway.
    body_signed = models.BooleanField(default=False)
    first_delivery = models.ForeignKey(
        WebhookDelivery, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    deposit = models.ForeignKey(Deposit, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "dedupe_key"], name="webhook_event_unique_per_gateway"),
        ]
        indexes = [models.Index(fields=["processed_at", "received_at"], name="webhook_event_unprocessed_idx")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_type} {self.dedupe_key}"


class VirtualAccount(models.Model):
    """A dedicated (Paystack), reserved (Monnify) or static (Flutterwave) bank account whose
    incoming transfers credit `user`'s wallet."""

    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="virtual_accounts")
    gateway = models.CharField(max_length=20)
    bank_name = models.CharField(max_length=100)
    bank_code = models.CharField(max_length=20, blank=True)
    account_number = models.CharField(max_length=20)
    account_name = models.CharField(max_length=200, blank=True)
    # What the gateway's funding webhooks carry to find the owner: Monnify accountReference,
    # Paystack customer_code, Flutterwave tx_ref.
    customer_reference = models.CharField(max_length=128, blank=True, db_index=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "account_number"], name="virtual_account_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.bank_name} {self.account_number}"


class VirtualAccountRequest(models.Model):
    """A pending request for a virtual account (Paystack assigns asynchronously): one per
    user and gateway; the identity number is never stored, only its last digits."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ASSIGNED = "assigned"
        FAILED = "failed"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="virtual_account_requests")
    gateway = models.CharField(max_length=20)
    account_reference = models.CharField(max_length=100, unique=True)
    id_type = models.CharField(max_length=3, blank=True)  # bvn | nin
    id_last4 = models.CharField(max_length=4, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "gateway"], name="virtual_account_request_one_per_gateway"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.account_reference} {self.status}"


class SandboxCharge(models.Model):
    """The sandbox gateway's own state (what its verify API answers). DEBUG only."""

    reference = models.CharField(max_length=100, unique=True)
    amount_kobo = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="NGN")
    status = models.CharField(max_length=10, default="pending")  # pending | success | failed
    return_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sandbox {self.reference} {self.status}"
