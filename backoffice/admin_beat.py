"""The periodic task pages (django-celery-beat), with a reason and an audit record for every
change, switch and manual run (backoffice/periodic_tasks.py). django-celery-beat's own pages
would let the admin group stop the ledger check or a sweeper unrecorded.

- Periodic tasks: add and edit (a required "Reason" field on the form), enable / disable /
  run now as change-list actions that ask for a reason. No delete: disable instead.
- Interval and crontab schedules: add only. Editing one in place would silently move every
  task that uses it; point a task at another schedule instead (that change is audited).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from audit.admin_actions import bulk_action
from audit.services import Actor
from backoffice import periodic_tasks

for _model in (PeriodicTask, IntervalSchedule, CrontabSchedule):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), max_length=1000, strip=True,
        help_text="Required. Saved in the audit log with your name and the fields you changed.",
    )


@admin.register(PeriodicTask)
class AuditedPeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm
    fieldsets = (("Why", {"fields": ("reason",)}), *beat_admin.PeriodicTaskAdmin.fieldsets)
    actions = ("enable_tasks", "disable_tasks", "run_tasks")

    def save_model(self, request: HttpRequest, obj: PeriodicTask, form: Any, change: bool) -> None:
        fields = [name for name in form.changed_data if name != "reason"] if change else None
        periodic_tasks.periodic_task_save(
            actor=Actor.from_request(request), task=obj, fields=fields, reason=form.cleaned_data["reason"]
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: the record of what ran stays

    def _switch(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool, action: str, verb: str) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action=action, verb=verb,
            call=lambda task, data: periodic_tasks.periodic_task_set_enabled(
                actor=actor, task_id=task.pk, enabled=enabled, reason=data["reason"]),
        )

    @admin.action(permissions=["change"], description="Enable selected tasks (asks for a reason)")
    def enable_tasks(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._switch(request, queryset, enabled=True, action="enable_tasks", verb="Enable")

    @admin.action(permissions=["change"], description="Disable selected tasks (asks for a reason)")
    def disable_tasks(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._switch(request, queryset, enabled=False, action="disable_tasks", verb="Disable")

    @admin.action(permissions=["change"], description="Run selected tasks now (asks for a reason)")
    def run_tasks(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        actor = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="run_tasks", verb="Run now",
            call=lambda task, data: periodic_tasks.periodic_task_run(actor=actor, task_id=task.pk, reason=data["reason"]),
        )


class AddOnlyScheduleAdmin(beat_admin.ScheduleAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(AddOnlyScheduleAdmin, beat_admin.IntervalScheduleAdmin):
    pass


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(AddOnlyScheduleAdmin, beat_admin.CrontabScheduleAdmin):
    pass
