"""The ledger's float per provider: exactly the sum of the float accounts' entries (as the
ledger's own system_balances says), whether it comes from the cached snapshot, the live tail
after it, or both; an entry is never counted twice or skipped as the snapshot moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from backoffice import ledger_float
from backoffice.tests.known_fixture import ledger_float_postings
from wallets.models import Entry
from wallets.selectors import system_balances
from wallets.services import Leg, hold_capture, hold_place, system_account
from wallets.tests.factories import fund_wallet, wallet_for

pytestmark = pytest.mark.django_db


def books() -> dict[str, int]:
    return {code.removeprefix("float:"): total for code, total in system_balances().items() if code.startswith("float:")}


def capture(user, ref: str, provider: str, cost: int) -> None:
    hold_place(account_id=wallet_for(user).pk, amount_kobo=cost, reference=f"hold:{ref}")
    hold_capture(reference=f"hold:{ref}", key=f"capture:{ref}", credit_legs=[Leg(system_account(f"float:{provider}").pk, cost)])


def test_it_equals_the_ledgers_own_sums(user):
    ledger_float_postings(user)
    figures = ledger_float.float_balances()
    assert figures == books()
    assert (figures["amigo"], figures["vtpass"]) == (29_000, 4_800)


def test_the_snapshot_and_the_live_tail_add_up_as_time_moves(user):
    fund_wallet(user, 100_000)
    capture(user, "F1", "amigo", 1_000)
    capture(user, "F2", "amigo", 2_000)
    now = timezone.now()

    # Nothing is settled yet: all live, nothing cached as counted.
    assert ledger_float.float_balances(now=now)["amigo"] == 3_000
    assert cache.get(ledger_float.CACHE_KEY) is None  # nothing settled: nothing snapshotted

    # Later: both are settled into the snapshot; a new capture is live.
    later = now + ledger_float.SETTLE + timedelta(seconds=1)
    assert ledger_float.float_balances(now=later)["amigo"] == 3_000
    settled = cache.get(ledger_float.CACHE_KEY)
    assert settled["sums"][str(system_account("float:amigo").pk)] == 3_000
    assert settled["upto"] == Entry.objects.order_by("-id").values_list("id", flat=True).first()
    capture(user, "F3", "vtpass", 4_000)
    assert ledger_float.float_balances(now=later) == books()
    assert ledger_float.float_balances(now=later + ledger_float.SETTLE * 2) == books()
    assert books()["amigo"] == 3_000 and books()["vtpass"] == 4_000


def test_a_lost_cache_is_rebuilt_from_the_entries(user):
    fund_wallet(user, 10_000)
    capture(user, "F9", "amigo", 700)
    later = timezone.now() + ledger_float.SETTLE * 2
    ledger_float.float_balances(now=later)
    cache.delete(ledger_float.CACHE_KEY)
    assert ledger_float.float_balances(now=later)["amigo"] == 700
