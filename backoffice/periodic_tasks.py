"""Staff changes to the periodic tasks beat runs (django-celery-beat; config/schedule.py
installs them). The schedule stays editable in the console (DESIGN §8), but every change,
switch and manual run names its reason and leaves an audit record in the same transaction:
a disabled ledger check or sweeper is money left unwatched.

- A task's fields are recorded as stored (a schedule as its id); only the fields the staff
  member changed are written, so beat's own bookkeeping (last run, run count) saved in the
  meantime is not put back. Disabling clears `last_run_at`, as django-celery-beat does.
- Tasks are never deleted from the console: disable them.
- Schedules (interval, crontab) are added but never edited in place: one schedule serves
  many tasks, so a change is made by pointing a task at another schedule, which is audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from audit.services import Actor, audit_record, diff
from config.errors import InvalidState, NotFound, ReasonRequired

# Kept by beat itself, never by staff.
_BOOKKEEPING = {"id", "last_run_at", "total_run_count", "date_changed"}


def _values(task: PeriodicTask, names: Iterable[str] | None = None) -> dict[str, Any]:
    wanted = None if names is None else set(names)
    return {
        field.name: field.value_from_object(task) for field in task._meta.concrete_fields
        if field.name not in _BOOKKEEPING and (wanted is None or field.name in wanted)
    }


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def periodic_task_save(
    *, actor: Actor, task: PeriodicTask, reason: str, fields: Iterable[str] | None = None
) -> dict[str, list[Any]]:
    """Create `task` (no pk) or write its changed `fields` (None: every field), audited
    `periodic_task.create` / `periodic_task.update` with the before and after. Locks the
    task row. Returns the changes ({}: nothing written). Raises REASON_REQUIRED."""
    reason = _reason(reason)
    with transaction.atomic():
        current = PeriodicTask.objects.select_for_update().filter(pk=task.pk).first() if task.pk else None
        if current is None:
            task.save()
            changes, action = diff({}, _values(task)), "periodic_task.create"
        else:
            names = list(_values(task, fields))
            changes, action = diff(_values(current, names), _values(task, names)), "periodic_task.update"
            if changes:
                task.save(update_fields=_update_fields(task, changes))
        if changes:
            audit_record(action=action, actor=actor, target=task, changes=changes, reason=reason)
    return changes


def _update_fields(task: PeriodicTask, changes: dict[str, Any]) -> list[str]:
    names = [task._meta.get_field(name).attname for name in changes]
    return names + (["last_run_at"] if "enabled" in changes else [])


def periodic_task_set_enabled(*, actor: Actor, task_id: int, enabled: bool, reason: str) -> bool:
    """Switch one task on or off. Returns False (nothing audited) when it already was."""
    reason = _reason(reason)
    with transaction.atomic():
        task = PeriodicTask.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            raise NotFound()
        if task.enabled == enabled:
            return False
        task.enabled = enabled
        periodic_task_save(actor=actor, task=task, fields=["enabled"], reason=reason)
    return True


def periodic_task_run(*, actor: Actor, task_id: int, reason: str) -> None:
    """Send one periodic task to the workers now, with its arguments and queue, after the
    audit record (`periodic_task.run`) commits. Raises REASON_REQUIRED, NOT_FOUND,
    INVALID_STATE (its task is not registered with this Celery app)."""
    reason = _reason(reason)
    current_app.loader.import_default_modules()
    with transaction.atomic():
        task = PeriodicTask.objects.filter(pk=task_id).first()
        if task is None:
            raise NotFound()
        celery_task = current_app.tasks.get(task.task)
        if celery_task is None:
            raise InvalidState(f"The task {task.task!r} is not registered.")
        audit_record(action="periodic_task.run", actor=actor, target=task, reason=reason, changes={"task": task.task})
        options: dict[str, Any] = {"headers": {"periodic_task_name": task.name}}
        if task.queue:
            options["queue"] = task.queue
        args, kwargs = task.args, task.kwargs
        transaction.on_commit(lambda: celery_task.apply_async(args=_json(args, []), kwargs=_json(kwargs, {}), **options))


def _json(text: str, empty: Any) -> Any:
    return json.loads(text) if text else empty
