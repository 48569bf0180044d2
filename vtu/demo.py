"""Demo data for `make run` (config/management/commands/seed_demo.py; DEBUG only).

Routes the sandbox provider first for every network (data and airtime), syncs its plans
into the catalogue (so the plans are priced by the default pricing rules), and puts play
money in the demo customer's and reseller's wallets, and asks the sandbox for its float once
(the periodic check runs every 15 minutes; the dashboard shows a figure from the start).
Idempotent: routes are get-or-create (a staff change survives), the funding journal has a
fixed key per user. The sandbox number table is in docs/purchases.md.
"""

from __future__ import annotations

from typing import Any

from accounts.models import User
from vtu.models import Network, ProductKind, Route
from vtu.services.calls import provider_configured
from vtu.services.catalogue import plans_sync
from vtu.services.sweeper import provider_balances_check

SANDBOX_AIRTIME_COST_BPS = 9_800  # the sandbox charges 98 % of face value
DEMO_FUNDS_KOBO = {"demo@example.com": 2_000_000, "reseller@example.com": 10_000_000}


def seed(stdout: Any) -> None:
    if not provider_configured("sandbox"):
        stdout.write("vtu: sandbox provider not enabled (SANDBOX_PROVIDER_ENABLED=true); no routes seeded")
        return
    for network in Network.objects.all():
        for product in ProductKind.values:
            Route.objects.get_or_create(
                network=network, product=product, provider="sandbox",
                defaults={"priority": 1, "airtime_cost_bps": SANDBOX_AIRTIME_COST_BPS},
            )
    report = plans_sync(provider="sandbox")
    funded = [email for email, amount in DEMO_FUNDS_KOBO.items() if _fund(email, amount)]
    provider_balances_check()
    stdout.write(
        f"vtu: sandbox routed first on every network; {report.mapped} sandbox plans mapped"
        + (f"; funded {', '.join(funded)}" if funded else "")
        + ". Numbers ending 0001 fail (refunded), 0002 settle within a minute (the first requery), others succeed (docs/purchases.md)"
    )


def _fund(email: str, amount_kobo: int) -> bool:
    """Play money through a real, balanced journal (bank -> wallet), once per user."""
    from wallets.models import Journal
    from wallets.services import Leg, journal_post, system_account, wallet_get_or_create

    user = User.objects.filter(email=email).first()
    if user is None:
        return False
    key = f"bankfund:demo-{user.pk}"
    if Journal.objects.filter(idempotency_key=key).exists():
        return False
    wallet = wallet_get_or_create(user_id=user.pk)
    journal_post(
        key=key, kind=Journal.Kind.DEPOSIT, reference=f"demo-{user.pk}", memo="Demo funds (make run)",
        legs=[Leg(system_account("bank").pk, -amount_kobo), Leg(wallet.pk, amount_kobo)],
    )
    return True
