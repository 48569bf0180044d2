from __future__ import annotations

import factory

from pricing.models import PricingRule


class RuleFactory(factory.django.DjangoModelFactory):
    """A data rule for customers at cost + 10 % unless told otherwise."""

    class Meta:
        model = PricingRule

    kind = "data"
    audience = "customer"
    method = "percent"
    rate_bps = 1000
    amount_kobo = None
