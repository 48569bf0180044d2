"""Staff users per group, for the console and staff API tests."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from accounts.models import User
from accounts.tests.factories import UserFactory

ROLES = ("anonymous", "customer", "support", "finance", "admin")


def staff_user(group: str | None = None, **fields: Any) -> User:
    user = UserFactory(is_staff=True, pin="", **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def user_for_role(role: str) -> User | None:
    if role == "anonymous":
        return None
    if role == "customer":
        return UserFactory()
    return staff_user(role)
