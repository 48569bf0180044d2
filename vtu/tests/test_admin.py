"""The basic back office: pages load, catalogue edits are audited, purchases are read-only."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from vtu.models import Network, Purchase
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, pin=""))
    return client


def test_admin_pages_load(admin_client, buyer, world, vtu_clock):
    purchase, _ = purchase_create(user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    for path in ("network", "dataplan", "providerplan", "route", "providerstate", "purchase", "providercall"):
        assert admin_client.get(f"/admin/vtu/{path}/").status_code == 200, path
    assert admin_client.get(f"/admin/vtu/purchase/{purchase.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/vtu/purchase/?q={purchase.reference}").status_code == 200


def test_switching_a_network_off_is_audited(admin_client, catalogue):
    mtn = Network.objects.get(code="MTN")
    data = {field: getattr(mtn, field) for field in ("code", "name", "airtime_min_kobo", "airtime_max_kobo", "sort_order")}
    data.update({"prefixes": json.dumps(mtn.prefixes), "active": "", "airtime_active": "on", "sme_active": "on",
                 "gifting_active": "on", "corporate_active": "on"})

    response = admin_client.post(f"/admin/vtu/network/{mtn.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    mtn.refresh_from_db()
    assert mtn.active is False
    log = AuditLog.objects.get(action="network.update")
    assert log.changes == {"active": [True, False]}  # before and after, only what changed


def test_requery_action_goes_through_the_service(admin_client, buyer, world, vtu_clock):
    world.script("alpha", "pending")
    purchase, _ = purchase_create(user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    world.settle(purchase.attempts.get().request_id, "delivered")

    admin_client.post("/admin/vtu/purchase/", {"action": "requery_now", "_selected_action": [purchase.pk]})

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL
    assert AuditLog.objects.filter(action="purchase.requery").exists()


def test_provider_callbacks_are_listed_read_only_and_searchable(admin_client, buyer, world, vtu_clock):
    from vtu.models import ProviderCallback

    purchase, _ = purchase_create(user=buyer, request=PurchaseRequest(product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    kept = ProviderCallback.objects.create(
        provider="vtpass", method="POST", request_id="202612041200abcd", purchase=purchase, verdict="requery_queued",
        body='{"code": "000"}', body_bytes=15,
    )
    ProviderCallback.objects.create(provider="vtpass", method="POST", request_id="zz-unrelated-callback", verdict="unmatched")

    found = admin_client.get("/admin/vtu/providercallback/?q=202612041200abcd")
    page = admin_client.get(f"/admin/vtu/providercallback/{kept.pk}/change/")

    assert found.status_code == 200 and b"202612041200abcd" in found.content and b"zz-unrelated-callback" not in found.content
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"/admin/vtu/providercallback/{kept.pk}/delete/").status_code == 403
