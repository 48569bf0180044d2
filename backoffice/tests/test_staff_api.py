"""POST /api/v1/admin/users/{id}/suspend|activate: staff only, reason required, audited."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import api_keys
from accounts.models import User
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from audit.selectors import actions_for_target, audit_for_target
from backoffice.tests.factories import staff_user
from conftest import authenticate

pytestmark = pytest.mark.django_db


def _client(user: User | None) -> APIClient:
    client = APIClient()
    return authenticate(client, user) if user is not None else client


def _suspend(client: APIClient, user_id: int, body: dict | None = None):
    return client.post(f"/api/v1/admin/users/{user_id}/suspend", body if body is not None else {"reason": "chargebacks"}, format="json")


def test_support_suspends_then_reactivates_a_customer_and_both_are_audited():
    support, customer = staff_user("support"), UserFactory()
    client = _client(support)

    response = _suspend(client, customer.pk, {"reason": "  three chargebacks this week  "})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["suspended"], body["suspension_reason"]) == (customer.pk, True, "three chargebacks this week")
    customer.refresh_from_db()
    assert customer.suspended_at is not None

    response = client.post(f"/api/v1/admin/users/{customer.pk}/activate", {"reason": "bank cleared it"}, format="json")
    assert response.status_code == 200 and response.json()["suspended"] is False
    customer.refresh_from_db()
    assert customer.suspended_at is None

    assert actions_for_target(target=customer) == ["user.suspend", "user.activate"]
    rows = list(audit_for_target(target=customer))
    assert [(row.actor_user_id, row.actor_kind, row.reason) for row in rows] == [
        (support.pk, "staff", "three chargebacks this week"), (support.pk, "staff", "bank cleared it"),
    ]


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "    "}])
def test_a_missing_reason_is_refused_and_nothing_changes(body):
    customer = UserFactory()
    response = _suspend(_client(staff_user("support")), customer.pk, body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "REASON_REQUIRED"
    customer.refresh_from_db()
    assert customer.suspended_at is None
    assert AuditLog.objects.filter(action="user.suspend").count() == 0


@pytest.mark.parametrize("body", [{"reason": 42}, {"reason": None}, {"reason": "x" * 1001}])
def test_a_malformed_reason_is_a_validation_error_and_nothing_changes(body):
    customer = UserFactory()
    response = _suspend(_client(staff_user("support")), customer.pk, body)
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"
    customer.refresh_from_db()
    assert customer.suspended_at is None
    assert AuditLog.objects.filter(action="user.suspend").count() == 0


def test_an_unknown_user_is_404():
    response = _suspend(_client(staff_user("support")), 999_999)
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"
    assert AuditLog.objects.filter(action="user.suspend").count() == 0


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [(None, 401, "NOT_AUTHENTICATED"), ("customer", 403, "STAFF_ONLY"), ("finance", 403, "PERMISSION_DENIED")],
)
def test_who_may_not_suspend(role, status, code):
    customer = UserFactory()
    actor = None if role is None else UserFactory() if role == "customer" else staff_user(role)
    response = _suspend(_client(actor), customer.pk)
    assert (response.status_code, response.json()["error_code"]) == (status, code)
    customer.refresh_from_db()
    assert customer.suspended_at is None
    assert actions_for_target(target=customer) == []


def test_support_may_not_suspend_a_staff_account_but_admin_may():
    colleague = staff_user("finance")
    response = _suspend(_client(staff_user("support")), colleague.pk)
    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")
    colleague.refresh_from_db()
    assert colleague.suspended_at is None and actions_for_target(target=colleague) == []

    assert _suspend(_client(staff_user("admin")), colleague.pk).status_code == 200
    assert actions_for_target(target=colleague) == ["user.suspend"]


def test_an_api_key_never_reaches_the_staff_api_even_a_staff_members_key():
    admin_member, customer = staff_user("admin"), UserFactory()
    issued = api_keys.api_key_create(user=admin_member, name="ops", scopes=["read", "purchase", "transfer", "deposit"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.plaintext)
    response = _suspend(client, customer.pk)
    assert response.status_code == 403 and response.json()["error_code"] == "STAFF_ONLY"
    assert client.get("/api/v1/admin/analytics").status_code == 403
    customer.refresh_from_db()
    assert customer.suspended_at is None


def test_get_is_not_allowed_on_suspend():
    response = _client(staff_user("support")).get(f"/api/v1/admin/users/{UserFactory().pk}/suspend")
    assert response.status_code == 405
