from __future__ import annotations

import pytest

from pricing.models import PricingRule


@pytest.fixture
def no_rules(db):
    """Start from an empty rule table (the data migration seeds default rules)."""
    PricingRule.objects.all().delete()
