"""E-mail tasks (queue `email`). They take ids and build tokens themselves, so no token ever
sits in the broker."""

from __future__ import annotations

from celery import shared_task

from accounts import emails
from accounts.models import User


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_verification_send(user_id: int) -> None:
    user = User.objects.filter(pk=user_id, email_verified_at__isnull=True).first()
    if user is not None:
        emails.send_verification(user)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_password_reset_send(user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        emails.send_password_reset(user)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def email_notice_send(user_id: int, template: str, context: dict) -> None:
    """A notice without secrets (receipts, refunds, dispute outcomes, KYC decisions)."""
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        emails.send_template(user.email, template, {"user": user, **context})
