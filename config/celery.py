"""Celery app. Broker: Redis when REDIS_URL is set, else kombu's filesystem transport (make run).

Tasks take ids, are dispatched after commit (`delay_on_commit`), are idempotent and retry
only transient errors. Waits of minutes or hours are `next_check_at` columns claimed by beat
sweepers, never long countdowns. The request id of the request that queued a task follows it
into the task's log lines.
"""

from __future__ import annotations

import os
from typing import Any

import structlog
from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("vtu", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database connection before and after every task unless
# this is set, so each task paid a new PostgreSQL connection (a backend fork on the server):
# at a purchase a task, that was most of a worker's time. Connections are handled the way a
# Django request handles them instead (_recycle_connections below: reused up to
# DB_CONN_MAX_AGE, dropped when unusable).
app.conf["CELERY_DB_REUSE_MAX"] = 2**62
app.autodiscover_tasks()


@signals.setup_logging.connect
def _keep_our_logging(**_: Any) -> None:
    """Celery replaces the root logger's handlers with its own plain-text format unless a
    receiver of this signal exists; with one, it leaves logging alone. Apply settings.LOGGING
    (JSON lines in production, secrets redacted) so worker and beat log like the web process."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from config import request_context

    request_id = request_context.current().request_id
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_connections(task: Any = None, **_: Any) -> None:
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.task_prerun.connect
def _bind_request_id(task: Any = None, **_: Any) -> None:
    from config import request_context

    if task is None or task.request.is_eager:
        return  # eager (unit tests): the caller's context stays as it is
    request_id = getattr(task.request, "request_id", None)
    request_id = request_id or request_context.new_request_id()
    request_context.set_current(request_context.RequestInfo(request_id=request_id))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, task=task.name)


@signals.task_postrun.connect
def _unbind_request_id(task: Any = None, **_: Any) -> None:
    if task is not None and not task.request.is_eager:
        structlog.contextvars.clear_contextvars()
