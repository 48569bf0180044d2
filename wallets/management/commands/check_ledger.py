"""`manage.py check_ledger`: check every ledger invariant; exit 1 naming each finding.

Freezes the customer wallets involved and alerts staff (unless --no-freeze); never corrects.
Active holds past their review deadline are listed as warnings (not findings).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from wallets.selectors import holds_overdue
from wallets.services.checks import ledger_check_run

SHOWN_OVERDUE = 10  # the most overdue holds named; the count covers all of them


class Command(BaseCommand):
    help = "Check the ledger's invariants; exit non-zero on any finding (wallets involved are frozen)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-freeze", action="store_true", help="Report only; freeze nothing.")
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        check = ledger_check_run(freeze=not options["no_freeze"])
        if options["json"]:
            self.stdout.write(json.dumps({"ok": check.ok, "check_id": check.pk, "findings": check.findings,
                                          "frozen_account_ids": check.frozen_account_ids, "stats": check.stats}))
        elif check.ok:
            self.stdout.write(self.style.SUCCESS(f"ledger ok ({check.stats})"))
        else:
            for finding in check.findings:
                self.stdout.write(self.style.ERROR(f"{finding['code']}: {finding['message']}"))
            self.stdout.write(f"{check.finding_count} finding(s); frozen wallets: {check.frozen_account_ids}")
        self._warn_holds_overdue(check.stats.get("holds_overdue", 0), as_json=options["json"])
        if not check.ok:
            raise SystemExit(1)

    def _warn_holds_overdue(self, count: int, *, as_json: bool) -> None:
        """Not a finding (the exit status is unchanged): holds nobody settled in time."""
        if not count or as_json:
            return
        self.stdout.write(self.style.WARNING(f"warning: {count} active hold(s) past their review deadline"))
        for hold in holds_overdue()[:SHOWN_OVERDUE]:
            self.stdout.write(self.style.WARNING(
                f"  hold {hold.reference}: {hold.amount_kobo} kobo on wallet {hold.account.number}, "
                f"review due {hold.expires_at.isoformat()}"
            ))
