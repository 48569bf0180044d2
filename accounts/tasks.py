"""E-mail tasks (queue `email`). They take ids and build tokens themselves, so no token ever
sits in the broker."""

from __future__ import annotations

from celery import shared_task

from accounts import callbacks, emails
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


# --- Reseller API: callbacks (queue `callbacks`) and API-key bookkeeping ------------------------


_SOFT_LIMIT, _HARD_LIMIT = callbacks.attempt_time_limits()


@shared_task(soft_time_limit=_SOFT_LIMIT, time_limit=_HARD_LIMIT)
def callback_deliver(delivery_id: int, claim_token: str) -> None:
    """One attempt at a callback delivery; a stale or duplicate task returns quietly (the
    claim token is gone). Never retried by Celery: retries are `next_attempt_at` rows. The
    time limits sit below the claim's lease (accounts/callbacks.py), so an attempt cannot
    outlive its claim and overlap a second send of the same delivery."""
    callbacks.callback_delivery_attempt(delivery_id=delivery_id, claim_token=claim_token)


@shared_task
def callbacks_sweep() -> int:
    """Beat, every 30 s: claim the deliveries whose next attempt is due and queue them."""
    return len(callbacks.callback_deliveries_claim_due())


@shared_task
def api_key_usage_flush() -> int:
    """Beat, every minute: write the batched API-key last-used times to the database."""
    from accounts import api_keys

    return api_keys.api_key_usage_flush()
