"""Enrol a staff member's authenticator app (TOTP) from the shell.

    manage.py staff_otp_enrol ada@example.com [--reset --reason "lost phone"] [--svg qr.svg]

Prints the otpauth:// URL (paste it into the app, or open the SVG QR code and scan it). The
device is confirmed at once: hand the URL or QR code to the staff member privately, it is
their second factor. --reset removes the user's existing devices first (lost phone), through
the same audited service as the console's "Remove two-factor devices" action, and needs
--reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from audit.services import Actor
from backoffice import otp, services


class Command(BaseCommand):
    help = "Enrol a staff member's TOTP authenticator app and print its otpauth URL (and QR code as SVG)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--reset", action="store_true", help="remove the user's existing devices first")
        parser.add_argument("--reason", default="", help="why the devices are removed (required with --reset; audited)")
        parser.add_argument("--svg", help="write the QR code as SVG to this file ('-' for standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None or not user.is_staff:
            raise CommandError(f"No staff user with the e-mail {options['email']!r}.")
        if otp.has_device(user) and not options["reset"]:
            raise CommandError("This user already has a device; pass --reset to replace it (the old one stops working).")
        if options["reset"] and not options["reason"].strip():
            raise CommandError("--reset needs --reason (it is saved in the audit log).")
        actor = Actor.system("manage.py staff_otp_enrol")
        if options["reset"]:
            services.staff_otp_reset(actor=actor, user_id=user.pk, reason=options["reason"])
        device = services.staff_otp_enrol(user=user, actor=actor)
        self.stdout.write(f"Enrolled a TOTP device for {user.email}. otpauth URL (a secret: hand it over privately):")
        self.stdout.write(device.config_url)
        if options["svg"] == "-":
            self.stdout.write(otp.qr_svg(device.config_url))
        elif options["svg"]:
            Path(options["svg"]).write_text(otp.qr_svg(device.config_url))
            self.stdout.write(f"QR code written to {options['svg']}")
