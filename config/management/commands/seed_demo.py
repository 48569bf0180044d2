"""Demo data for `make run`: refused when DEBUG is off.

Each app that has demo data exposes `<app>.demo.seed(stdout)`; they run in layer order and
are idempotent (get-or-create on natural keys), so `make run` can seed every time.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

APPS_IN_ORDER = ["accounts", "wallets", "pricing", "vtu", "payments", "backoffice"]


class Command(BaseCommand):
    help = "Load demo users, plans and money (development only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Refusing to load demo data with DEBUG off.")
        for app in APPS_IN_ORDER:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            module.seed(self.stdout)
