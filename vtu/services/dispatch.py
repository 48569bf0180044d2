"""Queue a Celery task after the current transaction commits, never failing the caller.

The work it queues is already committed, and each has a sweeper behind it (a pending
purchase is re-sent after a minute, a due requery is claimed again after its lease), so a
broker hiccup is logged, not raised: raising after commit would turn an accepted purchase
into a 5xx, and a client retrying that 5xx would buy twice.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction

log = structlog.get_logger("vtu.dispatch")


def send_now(task: Any, *args: Any) -> None:
    try:
        task.delay(*args)
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        log.warning("task_dispatch_failed", task=getattr(task, "name", str(task)), args=args, error=type(exc).__name__)


def after_commit(task: Any, *args: Any) -> None:
    transaction.on_commit(lambda: send_now(task, *args))
