from __future__ import annotations

from typing import Any

from celery import current_app
from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.schedule import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Create the periodic tasks beat runs (existing entries are left as staff edited them)."

    def handle(self, *args: Any, **options: Any) -> None:
        current_app.loader.import_default_modules()
        registered = set(current_app.tasks)
        for name, (task, seconds) in PERIODIC_TASKS.items():
            if task not in registered:
                self.stdout.write(f"skip {task}: not a registered task")
                continue
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})
            self.stdout.write(f"{'added' if created else 'kept '} {name}")
