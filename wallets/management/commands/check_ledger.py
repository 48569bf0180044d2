"""`manage.py check_ledger`: check every ledger invariant; exit 1 naming each finding.

Freezes the customer wallets involved and alerts staff (unless --no-freeze); never corrects.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from wallets.services.checks import ledger_check_run


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
        if not check.ok:
            raise SystemExit(1)
