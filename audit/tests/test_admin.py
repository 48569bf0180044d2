"""The audit and request log admin pages are read-only for everyone, superusers included."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.models import AuditLog, RequestLog
from audit.services import Actor, audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, pin=""))
    return client


@pytest.fixture
def rows():
    customer = UserFactory(email="findme@example.com")
    audit = audit_record(
        action="user.suspend", actor=Actor.system("test"), target=customer, reason="fraud ring 17",
        changes={"suspension_reason": ["", "fraud ring 17"]},
    )
    other = audit_record(action="wallet.freeze", actor=Actor.system("test"), target_type="wallets.ledgeraccount", target_id=9)
    log = RequestLog.objects.create(method="GET", path="/api/v1/wallet", status=500, latency_ms=12, user_id=customer.pk, request_id="rq-1")
    RequestLog.objects.create(method="GET", path="/api/v1/other", status=200, latency_ms=3, user_id=customer.pk + 1000)
    return audit, other, log


@pytest.mark.parametrize("model", [AuditLog, RequestLog])
def test_nobody_can_add_change_or_delete_rows_in_the_admin(superuser_client, rows, model):
    obj = model.objects.order_by("id").first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert superuser_client.get(reverse(f"{name}_changelist")).status_code == 200
    assert superuser_client.get(reverse(f"{name}_add")).status_code == 403
    assert superuser_client.get(reverse(f"{name}_delete", args=[obj.pk])).status_code == 403
    assert superuser_client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    page = superuser_client.get(reverse(f"{name}_change", args=[obj.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert superuser_client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    changelist = superuser_client.get(reverse(f"{name}_changelist"))
    assert b"delete_selected" not in changelist.content
    assert model.objects.filter(pk=obj.pk).exists()


def test_the_audit_log_is_searchable_by_target_reason_and_action(superuser_client, rows):
    audit, other, _log = rows
    url = reverse("admin:audit_auditlog_changelist")
    by_target = superuser_client.get(url, {"q": audit.target_id})
    assert list(by_target.context["cl"].queryset) == [audit]
    by_reason = superuser_client.get(url, {"q": "fraud ring"})
    assert list(by_reason.context["cl"].queryset) == [audit]
    by_action = superuser_client.get(url, {"action": "wallet.freeze"})
    assert list(by_action.context["cl"].queryset) == [other]
    detail = superuser_client.get(reverse("admin:audit_auditlog_change", args=[audit.pk]))
    assert b"fraud ring 17" in detail.content and b"Staff suspended a user" in detail.content


def test_the_request_log_is_searchable_by_user_id_and_filterable_by_status_class(superuser_client, rows):
    _audit, _other, log = rows
    url = reverse("admin:audit_requestlog_changelist")
    assert list(superuser_client.get(url, {"q": str(log.user_id)}).context["cl"].queryset) == [log]
    assert list(superuser_client.get(url, {"q": "rq-1"}).context["cl"].queryset) == [log]
    assert list(superuser_client.get(url, {"status_class": "5"}).context["cl"].queryset) == [log]


def test_a_staff_member_needs_the_view_permission(client, rows):
    staff = UserFactory(is_staff=True, pin="")
    client.force_login(staff)
    url = reverse("admin:audit_auditlog_changelist")
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    assert client.get(url).status_code == 200
