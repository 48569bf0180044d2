from __future__ import annotations

from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """Project-wide plumbing (idempotency store, alerts, health) as an app of its own."""

    name = "config"
    label = "platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        from config import observability, startup

        startup.check_or_refuse()
        observability.connect_celery_signals()
        observability.init_error_reporting()
