"""A small, fully known business day for the analytics, dashboard and API tests.

Day D is 2026-11-20 (Africa/Lagos). Rows are inserted directly: these tests read figures,
they move no money. The expected figures are written out by hand in test_analytics.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.tests.factories import UserFactory
from config.models import Alert
from payments.models import Deposit
from vtu.models import DataPlan, Dispute, Network, ProviderAttempt, ProviderState, Purchase
from wallets.models import LedgerCheck

LAGOS = ZoneInfo("Africa/Lagos")
D = date(2026, 11, 20)
_seq = count(1)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A Lagos wall-clock time `day_offset` days from D."""
    day = D + timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LAGOS)


def purchase(user, network: str, provider: str, status: str, amount: int, cost: int, completed: datetime | None,
             created: datetime | None = None, needs_review: bool = False, plan: str = "", channel: str = "web") -> Purchase:
    n = next(_seq)
    created = created or completed or at(0, 9)
    return Purchase.objects.create(
        reference=f"KF{n:06d}", hold_reference=f"hold:KF{n:06d}", user=user, product="data" if plan else "airtime",
        plan=DataPlan.objects.get(code=plan) if plan else None, channel=channel,
        network=Network.objects.get(code=network), phone="+2348031234567", face_value_kobo=None if plan else amount,
        amount_kobo=amount, cost_kobo=cost, margin_kobo=amount - cost, status=status, provider=provider,
        created_at=created, completed_at=completed, needs_review_at=at(0, 10) if needs_review else None,
    )


def attempt(p: Purchase, provider: str, state: str, created: datetime) -> ProviderAttempt:
    n = next(_seq)
    return ProviderAttempt.objects.create(
        purchase=p, number=n, provider=provider, request_id=f"KFREQ{n:08d}", cost_kobo=p.cost_kobo, state=state,
        created_at=created,
    )


def deposit(user, gateway: str, status: str, credited: int | None, fee: int, succeeded: datetime | None) -> Deposit:
    n = next(_seq)
    return Deposit.objects.create(
        user=user, gateway=gateway, reference=f"KFDEP{n:06d}", amount_kobo=(credited or 10_000) + fee, fee_kobo=fee,
        credited_kobo=credited, status=status, succeeded_at=succeeded, created_at=succeeded or at(0, 8),
    )


def build() -> None:
    user = UserFactory()
    # Purchases completed on D (Lagos). One at 00:30 Lagos is 23:30 UTC the day before.
    p1 = purchase(user, "MTN", "amigo", "successful", 10_000, 9_700, at(0, 10))
    p2 = purchase(user, "MTN", "amigo", "successful", 20_000, 19_400, at(0, 23, 30), plan="MTN_1GB_30D")
    p3 = purchase(user, "GLO", "vtpass", "successful", 5_000, 4_800, at(0, 0, 30), channel="api")
    p4 = purchase(user, "MTN", "vtpass", "failed", 10_000, 9_700, at(0, 12))
    # D-1: one reversed by the provider, one refunded by staff, one successful.
    purchase(user, "AIRTEL", "amigo", "reversed", 30_000, 29_000, at(-1, 9))
    purchase(user, "AIRTEL", "amigo", "refunded", 40_000, 39_000, at(-1, 10))
    p7 = purchase(user, "GLO", "amigo", "successful", 50_000, 48_000, at(-1, 11))
    # D-40: outside the 30 days. D+1 00:10 Lagos: outside "today".
    purchase(user, "MTN", "amigo", "successful", 99_900, 90_000, at(-40, 12))
    purchase(user, "MTN", "amigo", "successful", 77_700, 70_000, at(1, 0, 10))
    # Open now.
    p9 = purchase(user, "MTN", "amigo", "processing", 10_000, 9_700, None, created=at(0, 9), needs_review=True)
    purchase(user, "GLO", "amigo", "pending", 10_000, 9_700, None, created=at(0, 15))
    purchase(user, "AIRTEL", "amigo", "processing", 10_000, 9_700, None, created=at(0, 16))

    for p, provider, state in [
        (p1, "amigo", "success"), (p2, "amigo", "success"), (p7, "amigo", "success"), (p4, "amigo", "failed"),
        (p9, "amigo", "unknown"), (p3, "vtpass", "success"), (p4, "vtpass", "failed"),
    ]:
        attempt(p, provider, state, at(0, 9))
    attempt(p1, "amigo", "success", at(-35, 9))  # outside the range
    # D-5: inside the 30 days, not today (a wrong date filter would show them today).
    attempt(p7, "amigo", "failed", at(-5, 9))
    attempt(p3, "vtpass", "success", at(-5, 10))
    # D 00:05 Lagos is D-1 23:05 UTC: today in Lagos. D+1 00:10 Lagos: neither range.
    attempt(p3, "vtpass", "unknown", at(0, 0, 5))
    attempt(p2, "amigo", "success", at(1, 0, 10))

    deposit(user, "paystack", "successful", 100_000, 1_500, at(0, 9))
    deposit(user, "paystack", "successful", 50_000, 750, at(-2, 9))
    deposit(user, "monnify", "successful", 200_000, 0, at(-1, 9))
    deposit(user, "flutterwave", "reversed", 30_000, 0, at(-3, 9))
    deposit(user, "paystack", "failed", None, 0, None)
    deposit(user, "paystack", "successful", 500_000, 0, at(-45, 9))

    ProviderState.objects.create(provider="amigo", last_balance_kobo=5_000_000, balance_checked_at=at(0, 8), circuit="closed")
    ProviderState.objects.create(provider="vtpass", last_balance_kobo=None, enabled=False, circuit="open")
    LedgerCheck.objects.create(ok=True, finding_count=0, started_at=at(-1, 8), finished_at=at(-1, 8, 1))
    LedgerCheck.objects.create(ok=False, finding_count=2, started_at=at(0, 8), finished_at=at(0, 8, 1))
    LedgerCheck.objects.create(ok=True, finding_count=0, started_at=at(0, 9))  # still running: not the latest result

    # Disputes: one open since D 11:00, one decided.
    Dispute.objects.create(purchase=p1, user=user, reason="no airtime", created_at=at(0, 11))
    Dispute.objects.create(purchase=p7, user=user, reason="late", status="delivered", evidence="provider ref X",
                           resolution_reason="delivered at 11:02", resolved_at=at(0, 12), created_at=at(-1, 12))
    ledger_float_postings(user)

    now = timezone.now()
    Alert.objects.create(kind="low_float", dedupe_key="kf:float", severity="critical", message="amigo float low", last_seen_at=now)
    Alert.objects.create(kind="sla", dedupe_key="kf:sla", severity="warning", message="1 purchase past SLA", last_seen_at=now)
    Alert.objects.create(kind="old", dedupe_key="kf:old", severity="warning", message="resolved", resolved_at=now)


def ledger_float_postings(user) -> None:
    """Real postings on the float accounts (the ledger's view of provider float): amigo gets
    29,000 and 9,700 captured, the 9,700 one then reversed by the provider; vtpass 4,800."""
    from wallets.services import Leg, hold_capture, hold_place, journal_reverse, system_account
    from wallets.tests.factories import fund_wallet, wallet_for

    fund_wallet(user, 100_000, reference="KF-FLOAT")
    wallet = wallet_for(user)
    revenue = system_account("revenue").pk
    for ref, provider, price, cost in [("KFL1", "amigo", 30_000, 29_000), ("KFL2", "amigo", 10_000, 9_700),
                                       ("KFL3", "vtpass", 5_000, 4_800)]:
        hold_place(account_id=wallet.pk, amount_kobo=price, reference=f"hold:{ref}")
        legs = [Leg(system_account(f"float:{provider}").pk, cost), Leg(revenue, price - cost)]
        hold_capture(reference=f"hold:{ref}", key=f"capture:{ref}", credit_legs=legs)
    journal_reverse(original_key="capture:KFL2", key="reversal:KFL2", memo="provider reversed KFL2")
