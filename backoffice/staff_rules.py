"""Rules about staff acting on users that hold however the action is reached (admin page,
admin action or staff API)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from backoffice.roles import ADMIN
from config.errors import PermissionDenied


def is_admin(user: Any) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=ADMIN).exists())


def ensure_may_change_user(*, staff: Any, user_id: int) -> None:
    """Only an administrator may suspend, re-activate or re-tier a staff account: support
    must not be able to lock the people who supervise them out of the console. A missing
    user is left to the service (404)."""
    target = User.objects.filter(pk=user_id).only("is_staff", "is_superuser").first()
    if target is not None and (target.is_staff or target.is_superuser) and not is_admin(staff):
        raise PermissionDenied("Only an administrator may change a staff account.")
