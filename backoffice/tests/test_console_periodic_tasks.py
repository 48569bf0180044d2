"""Periodic tasks in the console: every change, switch and manual run needs a reason and is
audited; tasks are not deleted; schedules are not edited in place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audit.models import AuditLog, RequestLog
from audit.selectors import actions_for_target, audit_for_target
from backoffice.tests.admin_forms import form_data, post_form
from backoffice.tests.factories import staff_user

pytestmark = pytest.mark.django_db
TASKS = "/admin/django_celery_beat/periodictask/"


@pytest.fixture
def console() -> Client:
    client = Client()
    client.force_login(staff_user("admin"))
    return client


@pytest.fixture
def every_15_minutes() -> IntervalSchedule:
    return IntervalSchedule.objects.create(every=900, period=IntervalSchedule.SECONDS)


@pytest.fixture
def ledger_check(every_15_minutes) -> PeriodicTask:
    return PeriodicTask.objects.create(name="Ledger invariant check", task="wallets.tasks.ledger_check",
                                       interval=every_15_minutes)


def test_a_change_without_a_reason_is_refused_and_nothing_changes(console, ledger_check):
    response = post_form(console, f"{TASKS}{ledger_check.pk}/change/", {"reason": ""}, drop=("enabled",))
    assert response.status_code == 200 and b"This field is required" in response.content
    ledger_check.refresh_from_db()
    assert ledger_check.enabled is True
    assert actions_for_target(target=ledger_check) == []


def test_a_change_is_audited_with_before_after_and_reason_and_keeps_beats_bookkeeping(console, ledger_check, every_15_minutes):
    hourly = IntervalSchedule.objects.create(every=3600, period=IntervalSchedule.SECONDS)
    url = f"{TASKS}{ledger_check.pk}/change/"
    data = form_data(console.get(url).content.decode())
    PeriodicTask.objects.filter(pk=ledger_check.pk).update(total_run_count=5)  # beat ran it meanwhile
    data.update({"interval": str(hourly.pk), "reason": "less load at month end"})
    response = console.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    ledger_check.refresh_from_db()
    assert (ledger_check.interval_id, ledger_check.total_run_count) == (hourly.pk, 5)
    row = audit_for_target(target=ledger_check).get()
    assert (row.action, row.reason, row.changes) == (
        "periodic_task.update", "less load at month end", {"interval": [every_15_minutes.pk, hourly.pk]})


def test_adding_a_task_is_audited(console, every_15_minutes):
    page = console.get(f"{TASKS}add/")
    data = {**form_data(page.content.decode()), "name": "Prune keys", "task": "config.tasks.idempotency_prune",
            "interval": str(every_15_minutes.pk), "enabled": "on", "reason": "new job"}
    response = console.post(f"{TASKS}add/", data)
    assert response.status_code == 302, response.content[:2000]
    task = PeriodicTask.objects.get(name="Prune keys")
    row = audit_for_target(target=task).get()
    assert (row.action, row.reason) == ("periodic_task.create", "new job")
    assert row.changes["task"] == [None, "config.tasks.idempotency_prune"]
    assert row.changes["interval"] == [None, every_15_minutes.pk]


def test_disabling_and_enabling_ask_for_a_reason_and_are_audited(console, ledger_check):
    action = {"action": "disable_tasks", "_selected_action": [ledger_check.pk]}
    assert console.post(TASKS, action).status_code == 200  # the reason page
    assert console.post(TASKS, {**action, "apply": "1", "reason": ""}).status_code == 200
    ledger_check.refresh_from_db()
    assert ledger_check.enabled is True and actions_for_target(target=ledger_check) == []

    assert console.post(TASKS, {**action, "apply": "1", "reason": "provider outage"}).status_code == 302
    console.post(TASKS, {**action, "apply": "1", "reason": "again"})  # already off: nothing recorded
    console.post(TASKS, {"action": "enable_tasks", "_selected_action": [ledger_check.pk], "apply": "1", "reason": "back"})
    ledger_check.refresh_from_db()
    assert ledger_check.enabled is True
    rows = list(audit_for_target(target=ledger_check).values_list("reason", "changes"))
    assert rows == [("provider outage", {"enabled": [True, False]}), ("back", {"enabled": [False, True]})]


def test_running_a_task_now_is_audited_and_the_task_runs(console, every_15_minutes):
    prune = PeriodicTask.objects.create(name="Prune request log", task="audit.tasks.request_log_prune",
                                        interval=every_15_minutes)
    old = RequestLog.objects.create(method="GET", path="/api/v1/x", status=200, latency_ms=1,
                                    created_at=timezone.now() - dt.timedelta(days=400))
    action = {"action": "run_tasks", "_selected_action": [prune.pk]}
    assert console.post(TASKS, {**action, "apply": "1", "reason": ""}).status_code == 200
    assert RequestLog.objects.filter(pk=old.pk).exists() and actions_for_target(target=prune) == []

    assert console.post(TASKS, {**action, "apply": "1", "reason": "disk filling up"}).status_code == 302
    assert not RequestLog.objects.filter(pk=old.pk).exists()  # it ran (eager Celery in tests)
    row = audit_for_target(target=prune).get()
    assert (row.action, row.reason, row.changes) == ("periodic_task.run", "disk filling up", {"task": "audit.tasks.request_log_prune"})


def test_tasks_are_not_deleted_and_schedules_not_edited_in_place(console, ledger_check, every_15_minutes):
    assert console.post(f"{TASKS}{ledger_check.pk}/delete/", {"post": "yes"}).status_code == 403
    listing = console.get(TASKS).content.decode()
    assert "delete_selected" not in listing and "toggle_tasks" not in listing
    url = f"/admin/django_celery_beat/intervalschedule/{every_15_minutes.pk}/change/"
    console.post(url, {"every": "1", "period": "seconds"})
    every_15_minutes.refresh_from_db()
    assert every_15_minutes.every == 900
    assert PeriodicTask.objects.filter(pk=ledger_check.pk).exists()
    assert AuditLog.objects.filter(action__startswith="periodic_task.").count() == 0


def test_support_and_finance_cannot_switch_tasks(ledger_check):
    for group in ("support", "finance"):
        client = Client()
        client.force_login(staff_user(group))
        response = client.post(TASKS, {"action": "disable_tasks", "_selected_action": [ledger_check.pk],
                                       "apply": "1", "reason": "x"})
        assert response.status_code == 403
    ledger_check.refresh_from_db()
    assert ledger_check.enabled is True
