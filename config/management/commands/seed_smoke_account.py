"""The account scripts/smoke logs in with after a deploy (docs/runbook.md, "prod_smoke").

    python manage.py seed_smoke_account --email smoke@vtu.example.com

Works with DEBUG off (it is meant for production). Creates, or brings back to that state, a
customer that is verified, active, KYC tier 0, with no PIN and a wallet at ₦0: it can log in and
read, and cannot move money (no balance, no PIN). The password comes from the environment
variable named by --password-env (default SMOKE_PASSWORD) or, at a terminal, from a prompt;
it is checked by the password validators and never printed or logged. Idempotent: a second
run finds the account and sets the same state (and the password given) again. It refuses an
existing account that is anything else (staff, reseller, verified KYC, money in its wallet),
so a real customer's account is never turned into the smoke account.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import Actor, audit_record
from wallets.models import LedgerAccount
from wallets.services import wallet_get_or_create

ACTOR = Actor.system("manage.py seed_smoke_account")


class Command(BaseCommand):
    help = "Create or reset the smoke-test customer scripts/smoke logs in with (no money, no PIN)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password-env", default="SMOKE_PASSWORD",
                            help="environment variable holding the password (default SMOKE_PASSWORD)")
        parser.add_argument("--no-input", action="store_true", help="never prompt; fail if the variable is unset")

    def handle(self, *args: Any, **options: Any) -> None:
        email = User.objects.normalize_email(options["email"].strip()).lower()
        if "@" not in email:
            raise CommandError("--email must be an e-mail address.")
        password = _password(options["password_env"], prompt=not options["no_input"])
        try:
            password_validation.validate_password(password, User(email=email))
        except ValidationError as exc:
            raise CommandError("The password was refused: " + " ".join(exc.messages)) from None
        user, created = smoke_account_seed(email=email, password=password)
        self.stdout.write(f"smoke account {user.email} {'created' if created else 'already there, reset'}: "
                          "customer, verified, KYC tier 0, no PIN, wallet ₦0 (password not shown)")


def _password(variable: str, *, prompt: bool) -> str:
    password = os.environ.get(variable, "")
    if password:
        return password
    if not (prompt and sys.stdin.isatty()):
        raise CommandError(f"Set {variable} (or run at a terminal to be asked for the password).")
    first, second = getpass.getpass("Password: "), getpass.getpass("Password (again): ")
    if first != second:
        raise CommandError("The passwords differ.")
    return first


def _refusal(user: User) -> str:
    """Why an existing account cannot be the smoke account ("" when it can)."""
    if user.is_staff or user.is_superuser or user.role != User.Role.CUSTOMER:
        return "it is a staff or reseller account"
    if user.kyc_tier != 0:
        return f"it has KYC tier {user.kyc_tier}"
    wallets = LedgerAccount.objects.filter(user=user, kind=LedgerAccount.Kind.CUSTOMER)
    if wallets.exclude(balance_kobo=0, held_kobo=0).exists():
        return "its wallet holds money"
    return ""


def smoke_account_seed(*, email: str, password: str) -> tuple[User, bool]:
    """Create or reset the smoke customer; audited. Returns (user, created). Raises
    CommandError when `email` belongs to an account that must not become it."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User.objects.create_user(email=email, password=password, first_name="Smoke", last_name="Test",
                                            email_verified_at=timezone.now())
            audit_record(action="user.register", actor=ACTOR, target=user, reason="smoke account")
        else:
            refusal = _refusal(user)
            if refusal:
                raise CommandError(f"{email} exists and cannot be the smoke account: {refusal}.")
            user.set_password(password)
            user.email_verified_at = user.email_verified_at or timezone.now()
            user.is_active, user.suspended_at, user.suspension_reason = True, None, ""
            user.pin_hash, user.pin_failed_attempts, user.pin_locked_until = "", 0, None
            user.save()
            audit_record(action="user.update", actor=ACTOR, target=user, reason="smoke account reset",
                         changes={"password": "set", "state": "verified, active, no PIN"})
        wallet_get_or_create(user_id=user.pk)
    return user, created
