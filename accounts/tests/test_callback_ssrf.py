"""The SSRF guard on reseller callback URLs: scheme, resolution, non-public addresses (direct
or through DNS), address pinning, and a name that changes its answer after registration."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts import callback_http, callbacks
from accounts.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from accounts.tests import callback_receiver
from audit.models import AuditLog

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"
UNSPECIFIED = "0.0.0.0"  # noqa: S104 - an address to refuse, not to bind


@pytest.fixture
def dns(monkeypatch):
    """A fake DNS: name -> answers; an unknown name does not resolve."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise OSError("Name or service not known")

    monkeypatch.setattr(callback_http, "resolve", resolve)
    return table


def create(client, url):
    return client.post("/api/v1/webhooks", {"url": url, "events": ["purchase.successful"]}, format="json")


def assert_refused(response):
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "UNSAFE_URL"
    assert CallbackEndpoint.objects.count() == 0
    assert not AuditLog.objects.filter(action="callback_endpoint.create").exists()


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"], ["10.0.0.5"], ["172.16.3.4"], ["192.168.1.1"], ["169.254.169.254"], ["100.64.0.1"],
        [UNSPECIFIED], ["224.0.0.1"], ["240.0.0.1"], ["::1"], ["fe80::1"], ["fc00::1"], ["::ffff:127.0.0.1"],
        ["::ffff:10.0.0.1"], ["2002:0a00:0001::1"], ["64:ff9b::a00:1"], [PUBLIC, "10.0.0.5"],
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(user_client, dns, answers, settings):
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = False
    dns["hooks.example.com"] = answers
    assert_refused(create(user_client, "https://hooks.example.com/cb"))


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/cb",  # not https
        "ftp://hooks.example.com/cb",
        "https://user:pass@hooks.example.com/cb",
        "https:///nohost",
        "https://hooks.example.com:99999/cb",
        "https://does-not-resolve.example/cb",
        "https://127.0.0.1/cb",
        "https://[::1]/cb",
        "https://2130706433/cb",  # 127.0.0.1 as one integer: resolved like any name
    ],
)
def test_bad_urls_are_refused_with_nothing_stored(user_client, dns, url, settings):
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = False
    dns["hooks.example.com"] = [PUBLIC]
    dns["2130706433"] = ["127.0.0.1"]
    dns["127.0.0.1"] = ["127.0.0.1"]
    dns["::1"] = ["::1"]
    assert_refused(create(user_client, url))


def test_a_public_https_url_is_accepted(user_client, dns, settings):
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = False
    dns["hooks.example.com"] = [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]
    assert create(user_client, "https://hooks.example.com/cb").status_code == 201


def test_http_only_with_debug(user_client, dns, settings):
    dns["hooks.example.com"] = [PUBLIC]
    settings.DEBUG = True
    assert create(user_client, "http://hooks.example.com/cb").status_code == 201


def test_the_allow_private_setting_admits_loopback_but_never_link_local(settings):
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = True
    assert callback_http.address_allowed("127.0.0.1")
    assert callback_http.address_allowed("10.0.0.1")
    assert not callback_http.address_allowed("169.254.169.254")
    assert not callback_http.address_allowed("fe80::1")
    assert not callback_http.address_allowed(UNSPECIFIED)
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = False
    assert not callback_http.address_allowed("127.0.0.1")
    assert callback_http.address_allowed(PUBLIC)


def test_a_name_that_turns_private_after_registration_is_refused_at_send_time(
    user_client, user, receiver, clock, settings, monkeypatch
):
    """DNS rebinding: public when registered, loopback when we send. The attempt is refused
    before any connection (the receiver on loopback sees nothing)."""
    answers = {"value": [PUBLIC]}
    monkeypatch.setattr(callback_http, "resolve", lambda host, port: answers["value"])
    settings.CALLBACK_ALLOW_PRIVATE_ADDRESSES = False
    assert create(user_client, receiver.url()).status_code == 201
    answers["value"] = ["127.0.0.1"]
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e1", data={})
    assert receiver.requests == []
    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == "refused" and "private" in attempt.error
    assert CallbackDelivery.objects.get().status == "pending"  # retried later, re-checked each time


def test_the_connection_goes_to_the_checked_address(user_client, user, receiver, clock, monkeypatch):
    """Resolution happens once per attempt and the socket opens to that very address, while
    TLS (SNI, certificate) and Host use the name: no second lookup to be rebound."""
    assert create(user_client, receiver.url()).status_code == 201
    lookups: list[str] = []
    connects: list[tuple] = []
    real_create_connection = callback_http.socket.create_connection

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    def create_connection(address, *args, **kwargs):
        connects.append(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(callback_http, "resolve", resolve)
    monkeypatch.setattr(callback_http.socket, "create_connection", create_connection)
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e1", data={})
    assert lookups == [callback_receiver.HOSTNAME]
    assert connects == [("127.0.0.1", receiver.port)]
    assert receiver.requests[0].headers["Host"] == f"{callback_receiver.HOSTNAME}:{receiver.port}"
    assert CallbackDelivery.objects.get().status == "succeeded"


def test_a_certificate_for_another_name_fails_the_attempt(user_client, user, receiver, clock, monkeypatch):
    """The TLS check uses the URL's name: the receiver's certificate is for
    hooks.reseller.test, so a URL naming another host that resolves to it is not trusted."""
    monkeypatch.setattr(callback_http, "resolve", lambda host, port: ["127.0.0.1"])
    assert create(user_client, f"https://other.reseller.test:{receiver.port}/cb").status_code == 201
    with transaction.atomic():
        callbacks.callback_emit(user_id=user.pk, event_type="purchase.successful", event_id="e1", data={})
    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == "connection_error" and "CERTIFICATE" in attempt.error.upper()
    assert receiver.requests == []


def test_no_http_inside_a_transaction(user_client, user, receiver, clock):
    assert create(user_client, receiver.url()).status_code == 201
    with pytest.raises(Exception, match="inside transaction"), transaction.atomic():
        callback_http.post(receiver.url(), body=b"{}", headers={})
    assert receiver.requests == []
