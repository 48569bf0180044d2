"""Celery tasks of the vtu app (queue `providers`). They take ids, call one service, and
return quietly when the work is done already (every service is idempotent). None retries a
provider call: an unanswered purchase is requeried by the sweeper through next_check_at,
never by a Celery countdown."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from vtu.services import catalogue, flow, sweeper


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def purchase_process(purchase_id: int) -> None:
    flow.purchase_process(purchase_id=purchase_id)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def purchase_requery(purchase_id: int, reason: str = "due") -> str:
    return flow.purchase_requery(purchase_id=purchase_id, reason=reason)


@shared_task
def purchases_sweep() -> dict:
    report = sweeper.purchases_sweep()
    return {"dispatched": len(report.dispatched), "requeried": len(report.requeried), "flagged": len(report.flagged)}


@shared_task
def plans_sync() -> list[dict]:
    return [report.as_dict() for report in catalogue.plans_sync_all()]


@shared_task
def provider_balances_check() -> dict:
    return sweeper.provider_balances_check()
