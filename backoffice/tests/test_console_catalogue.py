"""Catalogue, routing and provider switches edited in the console: add and change forms save
(foreign keys included), inline provider plan rows are audited one by one, and every audit
row holds the before and after of exactly the fields that changed."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from backoffice.tests.admin_forms import form_data, post_form
from backoffice.tests.factories import staff_user
from vtu.models import DataPlan, Network, ProviderPlan, ProviderPlanCostChange, ProviderState, Route
from vtu.tests.conftest import PLAN

pytestmark = pytest.mark.django_db
VTU = "/admin/vtu"


@pytest.fixture
def console() -> Client:
    client = Client()
    client.force_login(staff_user("admin"))
    return client


def _only(action: str) -> AuditLog:
    return AuditLog.objects.get(action=action)


def _saved(response) -> bool:
    return response.status_code == 302


def _catalogue_rows() -> int:
    """Audit rows of catalogue edits (the fixture's pricing rules write their own)."""
    return AuditLog.objects.exclude(action__startswith="pricing_rule.").count()


# --- add forms: foreign keys are recorded as their ids -------------------------------------


def test_adding_a_network_is_audited_with_what_it_was_given(console):
    response = post_form(console, f"{VTU}/network/add/", {
        "code": "NTEL", "name": "ntel", "prefixes": '["0804"]', "airtime_min_kobo": 5000,
        "airtime_max_kobo": 100000, "sort_order": 9,
    })
    assert _saved(response), response.content[:2000]
    network = Network.objects.get(code="NTEL")
    row = _only("network.create")
    assert (row.target_id, row.actor_kind) == (str(network.pk), "staff")
    assert row.changes["code"] == [None, "NTEL"] and row.changes["prefixes"] == [None, ["0804"]]
    assert row.changes["airtime_max_kobo"] == [None, 100000]


def test_adding_a_data_plan_records_the_network_id(console, catalogue):
    mtn = Network.objects.get(code="MTN")
    response = post_form(console, f"{VTU}/dataplan/add/", {
        "code": "MTN_7GB_30D", "network": mtn.pk, "name": "7GB", "size_mb": 7168, "validity_days": 30,
        "plan_type": "sme", "active": "on",
    })
    assert _saved(response), response.content[:2000]
    plan = DataPlan.objects.get(code="MTN_7GB_30D")
    assert actions_for_target(target=plan) == ["plan.create"]
    changes = _only("plan.create").changes
    assert changes["network"] == [None, mtn.pk] and changes["size_mb"] == [None, 7168]


def test_adding_a_provider_plan_records_the_plan_id_and_starts_its_cost_history(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    response = post_form(console, f"{VTU}/providerplan/add/", {
        "provider": "gamma", "plan": plan.pk, "provider_plan_id": "G-1", "cost_kobo": 23000, "active": "on",
    })
    assert _saved(response), response.content[:2000]
    mapping = ProviderPlan.objects.get(provider="gamma")
    changes = _only("provider_plan.create").changes
    assert changes["plan"] == [None, plan.pk] and changes["cost_kobo"] == [None, 23000]
    assert list(ProviderPlanCostChange.objects.filter(provider_plan=mapping).values_list("old_cost_kobo", "new_cost_kobo")) == [
        (None, 23000)]


def test_adding_a_route_records_the_network_id(console, catalogue):
    mtn = Network.objects.get(code="MTN")
    response = post_form(console, f"{VTU}/route/add/", {
        "network": mtn.pk, "product": "airtime", "provider": "gamma", "priority": 50, "enabled": "on",
        "airtime_cost_bps": 9700,
    })
    assert _saved(response), response.content[:2000]
    route = Route.objects.get(provider="gamma")
    row = _only("routing.create")
    assert row.target_id == str(route.pk)
    assert row.changes["network"] == [None, mtn.pk] and row.changes["priority"] == [None, 50]


# --- change forms: before and after of what changed, nothing else -------------------------


def test_moving_a_route_to_another_network_records_both_ids(console, catalogue):
    route = Route.objects.filter(product="data", provider="alpha").order_by("pk").first()
    old_network = route.network_id
    other = Network.objects.exclude(pk=old_network).exclude(routes__product="data", routes__provider="gamma").first()
    response = post_form(console, f"{VTU}/route/{route.pk}/change/", {
        "network": other.pk, "provider": "gamma", "priority": 7,
    })
    assert _saved(response), response.content[:2000]
    assert audit_for_target(target=route).get().changes == {
        "network": [old_network, other.pk], "provider": ["alpha", "gamma"], "priority": [1, 7],
    }


def test_changing_a_data_plan_records_before_and_after(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    old_name = plan.name
    response = post_form(console, f"{VTU}/dataplan/{plan.pk}/change/", {"name": "1GB (renamed)"}, drop=("active",))
    assert _saved(response), response.content[:2000]
    assert audit_for_target(target=plan).get().changes == {"name": [old_name, "1GB (renamed)"], "active": [True, False]}


def test_a_provider_state_save_writes_only_the_switch(console):
    state = ProviderState.objects.create(provider="alpha", consecutive_failures=0)
    url = f"{VTU}/providerstate/{state.pk}/change/"
    data = form_data(console.get(url).content.decode())
    data.pop("enabled")  # untick: off
    # A worker records failures while the form is open; the save must not put back the 0 it loaded.
    ProviderState.objects.filter(pk=state.pk).update(consecutive_failures=4)
    assert _saved(console.post(url, data))
    state.refresh_from_db()
    assert (state.enabled, state.consecutive_failures) == (False, 4)
    row = audit_for_target(target=state).get()
    assert (row.action, row.changes) == ("provider.update", {"enabled": [True, False]})


def test_a_save_that_changes_nothing_writes_no_audit_row(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    assert _saved(post_form(console, f"{VTU}/dataplan/{plan.pk}/change/", {}))
    assert actions_for_target(target=plan) == []
    assert AuditLog.objects.filter(action__startswith="provider_plan.").count() == 0


def test_the_change_lists_editable_columns_are_audited_with_before_and_after(console, catalogue):
    route = Route.objects.filter(product="airtime", provider="beta").order_by("pk").first()
    page = console.get(f"{VTU}/route/?product__exact=airtime&provider=beta")
    data = form_data(page.content.decode())
    index = next(key.split("-")[1] for key, value in data.items() if key.endswith("-id") and value == str(route.pk))
    data[f"form-{index}-priority"] = "30"
    data["_save"] = "Save"
    response = console.post(f"{VTU}/route/?product__exact=airtime&provider=beta", data)
    assert _saved(response), response.content[:2000]
    assert audit_for_target(target=route).get().changes == {"priority": [2, 30]}
    assert _catalogue_rows() == 1  # the other rows on the page were not touched


# --- a plan's provider plan rows (the inline) ------------------------------------------------


def test_an_inline_cost_edit_is_audited_on_the_mapping_with_its_cost_history(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    mapping = plan.provider_plans.get(provider="alpha")
    url = f"{VTU}/dataplan/{plan.pk}/change/"
    data = form_data(console.get(url).content.decode())
    index = next(key.split("-")[1] for key, value in data.items() if key.endswith("-id") and value == str(mapping.pk))
    old = mapping.cost_kobo
    data[f"provider_plans-{index}-cost_kobo"] = str(old - 100)
    data.pop(f"provider_plans-{index}-active")
    assert _saved(console.post(url, data))
    mapping.refresh_from_db()
    assert (mapping.cost_kobo, mapping.active) == (old - 100, False)
    row = audit_for_target(target=mapping).get()
    assert (row.action, row.changes) == ("provider_plan.update", {"cost_kobo": [old, old - 100], "active": [True, False]})
    assert actions_for_target(target=plan) == []  # the plan itself did not change
    assert ProviderPlanCostChange.objects.filter(provider_plan=mapping, old_cost_kobo=old, new_cost_kobo=old - 100).exists()


def test_an_inline_row_added_with_the_plan_is_audited_as_created(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    url = f"{VTU}/dataplan/{plan.pk}/change/"
    data = form_data(console.get(url).content.decode())
    index = int(data["provider_plans-TOTAL_FORMS"])
    data.update({
        "provider_plans-TOTAL_FORMS": str(index + 1), f"provider_plans-{index}-provider": "gamma",
        f"provider_plans-{index}-provider_plan_id": "G-9", f"provider_plans-{index}-cost_kobo": "24000",
        f"provider_plans-{index}-active": "on", f"provider_plans-{index}-plan": str(plan.pk),
    })
    assert _saved(console.post(url, data))
    mapping = ProviderPlan.objects.get(provider="gamma", plan=plan)
    assert actions_for_target(target=mapping) == ["provider_plan.create"]


def test_an_inline_row_cannot_be_deleted(console, catalogue):
    plan = DataPlan.objects.get(code=PLAN)
    url = f"{VTU}/dataplan/{plan.pk}/change/"
    page = console.get(url).content.decode()
    assert "-DELETE" not in page
    data = form_data(page)
    data["provider_plans-0-DELETE"] = "on"
    assert _saved(console.post(url, data))
    assert plan.provider_plans.count() == 2
    assert _catalogue_rows() == 0


def test_changing_a_provider_plan_on_its_own_page_records_before_and_after(console, catalogue):
    mapping = ProviderPlan.objects.filter(provider="beta").order_by("pk").first()
    old_cost, old_vendor_id = mapping.cost_kobo, mapping.provider_plan_id
    response = post_form(console, f"{VTU}/providerplan/{mapping.pk}/change/", {
        "cost_kobo": old_cost + 500, "provider_plan_id": "B-NEW",
    })
    assert _saved(response), response.content[:2000]
    assert audit_for_target(target=mapping).get().changes == {
        "provider_plan_id": [old_vendor_id, "B-NEW"], "cost_kobo": [old_cost, old_cost + 500],
    }
