"""Create the staff groups (support, finance, admin) and give them the permissions of
backoffice/roles.py. Runs by itself after every migrate (adding only); --exact also removes
permissions an administrator added by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backoffice.roles import staff_groups_sync


class Command(BaseCommand):
    help = "Create the staff groups and grant the permissions of backoffice/roles.py."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--exact", action="store_true", help="also remove permissions not in the table")

    def handle(self, *args: Any, **options: Any) -> None:
        for group, count in staff_groups_sync(exact=options["exact"]).items():
            self.stdout.write(f"{group}: {count} permissions")
