"""A staff member's change on someone else's behalf needs a reason in the service itself, not
only on the console's form: webhook re-processing, bulk and selected-rule markups, revoking a
customer's API key, and the pricing rule pages (add, change, activate, deactivate, delete)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import APIKey
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.services import Actor
from backoffice.tests.admin_forms import post_form
from backoffice.tests.factories import staff_user
from config.errors import ApiError
from payments import webhooks
from payments.models import WebhookEvent
from pricing import services as pricing
from pricing.models import PricingRule
from pricing.tests.factories import RuleFactory

pytestmark = pytest.mark.django_db
RULES = "/admin/pricing/pricingrule/"


def _refused(call) -> str:
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.code


@pytest.fixture
def staff() -> Actor:
    return Actor.for_user(staff_user("admin"))


def test_reprocessing_a_webhook_event_needs_a_reason_from_staff(staff):
    event = WebhookEvent.objects.create(gateway="paystack", dedupe_key="r-1", event_type="charge.success", kind="payment",
                                        outcome=WebhookEvent.Outcome.ERROR)
    assert _refused(lambda: webhooks.webhook_event_reprocess(event_id=event.pk, actor=staff, reason="  ")) == "REASON_REQUIRED"
    event.refresh_from_db()
    assert event.outcome == WebhookEvent.Outcome.ERROR
    assert not AuditLog.objects.filter(action="webhook_event.reprocess").exists()


def test_markups_need_a_reason_from_staff_but_not_from_the_system(staff):
    rule = RuleFactory(network="MTN", rate_bps=1000)
    assert _refused(lambda: pricing.pricing_rules_set_markup(
        rule_ids=[rule.pk], method="percent", rate_bps=900, actor=staff)) == "REASON_REQUIRED"
    assert _refused(lambda: pricing.pricing_rules_bulk_markup(
        kind="data", network="MTN", method="percent", rate_bps=900, actor=staff, reason="")) == "REASON_REQUIRED"
    rule.refresh_from_db()
    assert rule.rate_bps == 1000 and not AuditLog.objects.filter(action="pricing_rule.bulk_update").exists()
    assert pricing.pricing_rules_set_markup(rule_ids=[rule.pk], method="percent", rate_bps=900,
                                            actor=Actor.system("tests")) == 1


def test_staff_revoking_a_customers_key_needs_a_reason_the_owner_does_not(staff):
    owner = UserFactory()
    first = api_key_create(user=owner, name="shop", scopes=["read"]).api_key
    assert _refused(lambda: api_key_revoke(user=owner, key_id=first.pk, actor=staff)) == "REASON_REQUIRED"
    assert APIKey.objects.get(pk=first.pk).revoked_at is None
    assert not AuditLog.objects.filter(action="api_key.revoke").exists()
    api_key_revoke(user=owner, key_id=first.pk, actor=staff, reason="leaked on GitHub")
    assert AuditLog.objects.get(action="api_key.revoke").reason == "leaked on GitHub"

    second = api_key_create(user=owner, name="shop 2", scopes=["read"]).api_key
    assert api_key_revoke(user=owner, key_id=second.pk, actor=Actor.for_user(owner)).revoked_at is not None
    staff_owner = staff_user("support")
    own = api_key_create(user=staff_owner, name="mine", scopes=["read"]).api_key
    assert api_key_revoke(user=staff_owner, key_id=own.pk, actor=Actor.for_user(staff_owner)).revoked_at is not None


# --- the pricing rule pages ---------------------------------------------------------------------


@pytest.fixture
def console() -> Client:
    client = Client()
    client.force_login(staff_user("admin"))
    return client


def test_the_change_form_asks_for_a_reason_and_records_it(console):
    rule = RuleFactory(network="MTN", rate_bps=1000)
    refused = post_form(console, f"{RULES}{rule.pk}/change/", {"rate_bps": "1100", "reason": ""})
    assert refused.status_code == 200 and b"This field is required" in refused.content
    rule.refresh_from_db()
    assert rule.rate_bps == 1000 and not AuditLog.objects.filter(action="pricing_rule.update").exists()

    done = post_form(console, f"{RULES}{rule.pk}/change/", {"rate_bps": "1100", "reason": "MTN cost up"})
    assert done.status_code == 302, done.content[:2000]
    row = AuditLog.objects.get(action="pricing_rule.update")
    assert (row.reason, row.changes["rate_bps"]) == ("MTN cost up", [1000, 1100])


def test_deactivating_and_deleting_ask_for_a_reason(console):
    rule = RuleFactory(network="GLO", rate_bps=1000)
    for action in ("deactivate", "delete_rules"):
        page = console.post(RULES, {"action": action, "_selected_action": [rule.pk]})
        assert page.status_code == 200 and b"reason" in page.content
    assert console.post(RULES, {"action": "deactivate", "_selected_action": [rule.pk], "apply": "1",
                                "reason": "promo over"}).status_code == 302
    rule.refresh_from_db()
    assert rule.active is False
    assert AuditLog.objects.get(action="pricing_rule.update").reason == "promo over"

    assert console.post(f"{RULES}{rule.pk}/delete/", {"post": "yes"}).status_code == 403  # no bare delete page
    assert console.post(RULES, {"action": "delete_rules", "_selected_action": [rule.pk], "apply": "1",
                                "reason": "replaced by #2"}).status_code == 302
    assert not PricingRule.objects.filter(pk=rule.pk).exists()
    assert AuditLog.objects.get(action="pricing_rule.delete").reason == "replaced by #2"
