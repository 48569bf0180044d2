from __future__ import annotations

import pytest

from pricing.models import PricingRule


@pytest.fixture
def no_rules(db):
    """Start from an empty rule table (the data migration seeds default rules)."""
    PricingRule.objects.all().delete()


@pytest.fixture
def default_rules(db):
    """The migration's default rules (a transactional test elsewhere may have flushed them)."""
    import importlib

    from django.apps import apps

    importlib.import_module("pricing.migrations.0002_default_rules").create_defaults(apps, None)
