"""Demo users for `make run` (see config/management/commands/seed_demo.py)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts import pins
from accounts.models import User

STAFF = ("admin@example.com", "admin-pass-123")
CUSTOMER = ("demo@example.com", "demo-pass-123", "1234")
RESELLER = ("reseller@example.com", "reseller-pass-123", "1234")


def _user(email: str, password: str, **fields: Any) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, email_verified_at=timezone.now(), **fields)
    return user


def seed(stdout: Any) -> None:
    staff = _user(STAFF[0], STAFF[1], first_name="Ada", last_name="Admin", is_staff=True, is_superuser=True)
    customer = _user(CUSTOMER[0], CUSTOMER[1], first_name="Demo", last_name="Customer", phone="+2348031234567")
    reseller = _user(
        RESELLER[0], RESELLER[1], first_name="Rita", last_name="Reseller", role=User.Role.RESELLER, kyc_tier=2
    )
    for user, pin in ((customer, CUSTOMER[2]), (reseller, RESELLER[2])):
        if not user.pin_hash:
            User.objects.filter(pk=user.pk).update(pin_hash=pins.pin_digest(user_id=user.pk, pin=pin))
    stdout.write(f"demo users: staff {staff.email}, customer {customer.email}, reseller {reseller.email}")
