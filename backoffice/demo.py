"""Demo data for the back office in `make run` (config/management/commands/seed_demo.py runs it
last, DEBUG only): staff in each group, and real business through the real services so the
dashboard, the queues and every console page have something true to show.

- support@example.com / support-pass-123 and finance@example.com / finance-pass-123 (the
  superuser admin@example.com comes from accounts.demo);
- purchases by the demo customer through the sandbox provider (one delivered per network,
  one that fails, one that stays pending a little, one whose answer is lost): the worker
  settles them once it starts;
- an open dispute on a delivered purchase;
- a ₦75,000 bank-transfer credit requested by finance and waiting for a second approval.

Idempotent: purchases carry a client reference, the credit a unique bank reference, staff
are get-or-create by e-mail.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from config.errors import ApiError

STAFF = {"support": ("support@example.com", "support-pass-123"), "finance": ("finance@example.com", "finance-pass-123")}
CUSTOMER = "demo@example.com"
# (client reference, number, plan code or None for ₦500 airtime): the sandbox decides by the last four digits
# (docs/sandbox.md): 0001 fails, 0002 is pending then delivered, 0004 loses its answer.
PURCHASES = [
    ("demo-mtn-1", "08031234567", "MTN_1GB_30D"),
    ("demo-glo-1", "08051234567", "GLO_1GB_30D_CG"),
    ("demo-airtel-1", "08021234567", None),
    ("demo-fail-1", "08031230001", "MTN_1GB_30D"),
    ("demo-pending-1", "08031230002", "MTN_1GB_30D"),
    ("demo-lost-1", "08031230004", "MTN_1GB_30D"),
]
BANK_REFERENCE = "DEMO-GTB-000001"


def seed(stdout: Any) -> None:
    staff = {group: _staff(group, email, password) for group, (email, password) in STAFF.items()}
    customer = User.objects.filter(email=CUSTOMER).first()
    if customer is None:
        stdout.write("backoffice: no demo customer; no demo business seeded")
        return
    made = [reference for reference in (_purchase(customer, *row) for row in PURCHASES) if reference]
    _dispute(customer)
    _pending_credit(customer, staff["finance"])
    stdout.write(
        f"backoffice: staff {', '.join(f'{e} / {p}' for e, p in STAFF.values())}; "
        f"{len(made)} demo purchases (the worker settles them), an open dispute, a credit waiting for approval"
    )


def _staff(group: str, email: str, password: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, email_verified_at=timezone.now(), is_staff=True,
                                        first_name=group.capitalize(), last_name="Staff")
        user.groups.add(Group.objects.get(name=group))
    return user


def _purchase(customer: User, client_reference: str, number: str, plan: str | None) -> str | None:
    from vtu.services.purchases import PurchaseRequest, purchase_create

    if plan is None:
        request = PurchaseRequest(product="airtime", phone_number=number, network="AIRTEL", amount_kobo=50_000,
                                  client_reference=client_reference, confirm_duplicate=True)
    else:
        request = PurchaseRequest(product="data", phone_number=number, plan_code=plan, client_reference=client_reference,
                                  confirm_duplicate=True)
    try:
        purchase, _created = purchase_create(user=customer, request=request)
    except ApiError as error:  # e.g. a plan the sandbox does not list: the demo goes on without it
        return None if error.code != "DUPLICATE_REFERENCE" else client_reference
    return purchase.reference


def _dispute(customer: User) -> None:
    from audit.services import Actor
    from vtu.disputes import dispute_open
    from vtu.models import Dispute, Purchase

    purchase = Purchase.objects.filter(user=customer, client_reference="demo-glo-1").first()
    if purchase is None or Dispute.objects.filter(purchase=purchase).exists():
        return
    try:
        dispute_open(user=customer, reference=purchase.reference, reason="I was debited but the data never came.",
                     actor=Actor.for_user(customer))
    except ApiError:
        return


def _pending_credit(customer: User, finance: User) -> None:
    from audit.services import Actor
    from wallets.models import Adjustment
    from wallets.services import adjustment_request, bank_reference_normalise, wallet_get_or_create

    if Adjustment.objects.filter(bank_reference=bank_reference_normalise(BANK_REFERENCE)).exists():
        return
    adjustment_request(
        staff=Actor.for_user(finance), account_id=wallet_get_or_create(user_id=customer.pk).pk, direction="credit",
        amount_kobo=7_500_000, reason="Bank transfer DEMO-GTB-000001 seen on the bank statement",
        bank_reference=BANK_REFERENCE,
    )
