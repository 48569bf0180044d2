from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import pins
from accounts.errors import PinInvalid, PinLocked
from accounts.models import User
from accounts.services import pin_check
from accounts.tests.factories import PASSWORD, PIN, UserFactory
from audit.models import AuditLog
from conftest import authenticate


@pytest.mark.django_db
def test_pin_is_stored_as_peppered_hmac_not_plain():
    user = UserFactory(pin="4321")
    assert user.pin_hash == pins.pin_digest(user_id=user.pk, pin="4321")
    assert "4321" not in user.pin_hash
    assert len(user.pin_hash) == 64
    # Same PIN, other user: another digest (the user id is in the message).
    other = UserFactory(pin="4321")
    assert other.pin_hash != user.pin_hash


@pytest.mark.django_db
def test_set_pin_first_time_then_change_needs_current_pin_or_password(api_client):
    user = UserFactory(pin="")
    client = authenticate(api_client, user)
    assert client.post("/api/v1/auth/pin", {"pin": "1111"}, format="json").status_code == 200
    refused = client.post("/api/v1/auth/pin", {"pin": "2222"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "VALIDATION_ERROR"
    wrong = client.post("/api/v1/auth/pin", {"pin": "2222", "current_pin": "9999"}, format="json")
    assert wrong.status_code == 403
    assert wrong.json()["error_code"] == "PIN_INVALID"
    assert client.post("/api/v1/auth/pin", {"pin": "2222", "current_pin": "1111"}, format="json").status_code == 200
    assert client.post("/api/v1/auth/pin", {"pin": "3333", "password": PASSWORD}, format="json").status_code == 200
    pins.pin_verify(user_id=user.pk, pin="3333")
    assert AuditLog.objects.filter(action="user.pin_set", target_id=str(user.pk)).count() == 3


@pytest.mark.django_db
def test_pin_format_is_strict(user_client, user):
    before = User.objects.get(pk=user.pk).pin_hash
    for bad in ("123", "12345", "abcd", 1234, " 123", None):
        response = user_client.post("/api/v1/auth/pin", {"pin": bad, "password": PASSWORD}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert User.objects.get(pk=user.pk).pin_hash == before


@pytest.mark.django_db
def test_five_wrong_pins_lock_for_thirty_minutes_and_the_lock_expires(user):
    for attempt in range(4):
        with pytest.raises(PinInvalid) as exc:
            pins.pin_verify(user_id=user.pk, pin="0000")
        assert exc.value.errors["attempts_left"] == 4 - attempt
    with pytest.raises(PinLocked):
        pins.pin_verify(user_id=user.pk, pin="0000")
    with pytest.raises(PinLocked):  # even the right PIN while locked
        pins.pin_verify(user_id=user.pk, pin=PIN)
    user.refresh_from_db()
    assert user.pin_locked_until > timezone.now() + timedelta(minutes=29)
    assert AuditLog.objects.filter(action="user.pin_locked").count() == 1
    User.objects.filter(pk=user.pk).update(pin_locked_until=timezone.now() - timedelta(seconds=1))
    pins.pin_verify(user_id=user.pk, pin=PIN)
    user.refresh_from_db()
    assert user.pin_failed_attempts == 0 and user.pin_locked_until is None


@pytest.mark.django_db
def test_right_pin_resets_the_count(user):
    for _ in range(3):
        with pytest.raises(PinInvalid):
            pins.pin_verify(user_id=user.pk, pin="0000")
    pins.pin_verify(user_id=user.pk, pin=PIN)
    with pytest.raises(PinInvalid) as exc:
        pins.pin_verify(user_id=user.pk, pin="0000")
    assert exc.value.errors["attempts_left"] == 4


@pytest.mark.django_db
def test_pin_read_by_authentication_is_used_and_the_database_still_guards(user):
    """pin_check uses the digest and lock the request's user row was loaded with (no second
    read); a stale copy cannot get past a lock set meanwhile: the UPDATE checks the row."""
    stale = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        pin_check(user=stale, pin=PIN)
    assert len(queries) == 1 and queries[0]["sql"].lstrip().upper().startswith(("UPDATE", "SET LOCAL"))
    for _ in range(5):
        with pytest.raises((PinInvalid, PinLocked)):
            pins.pin_verify(user_id=user.pk, pin="0000")
    assert stale.pin_locked_until is None  # the copy does not know about the lock
    with pytest.raises(PinLocked):
        pin_check(user=stale, pin=PIN)
    stale.pin_hash = pins.pin_digest(user_id=user.pk, pin="9999")  # a copy from before a PIN change
    User.objects.filter(pk=user.pk).update(pin_locked_until=None, pin_failed_attempts=0)
    pin_check(user=stale, pin="9999")  # the copy decides right or wrong, as a read would have
    assert User.objects.get(pk=user.pk).pin_failed_attempts == 0


def _race_pins(user_id: int, guesses: list[str], *, known: tuple | None = None) -> list[str]:
    barrier = threading.Barrier(len(guesses))
    outcomes: list[str] = []

    def attempt(guess: str) -> None:
        barrier.wait()
        try:
            pins.pin_verify(user_id=user_id, pin=guess, known=known)
            outcomes.append("ok")
        except PinInvalid:
            outcomes.append("invalid")
        except PinLocked:
            outcomes.append("locked")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(guess,)) for guess in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_pins_get_no_more_answers_than_the_limit():
    user = UserFactory()
    outcomes = _race_pins(user.pk, ["0000"] * 20)
    assert len(outcomes) == 20
    assert outcomes.count("invalid") == 4  # the 5th wrong attempt answers "locked" and sets the lock
    assert outcomes.count("locked") == 16
    user.refresh_from_db()
    assert user.pin_failed_attempts == 5
    assert user.pin_locked_until is not None
    with pytest.raises(PinLocked):
        pins.pin_verify(user_id=user.pk, pin=PIN)


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_pins_read_before_any_attempt_get_no_more_answers_than_the_limit():
    """Every request read the row before any attempt (as authentication does): the database
    still answers no more than the limit, and then the right PIN is locked out too."""
    user = UserFactory()
    known = (user.pin_hash, None)
    outcomes = _race_pins(user.pk, ["0000"] * 20, known=known)
    assert sorted(outcomes) == ["invalid"] * 4 + ["locked"] * 16
    with pytest.raises(PinLocked):
        pins.pin_verify(user_id=user.pk, pin=PIN, known=known)


@pytest.mark.django_db(transaction=True)
def test_parallel_right_pins_all_pass():
    """A reseller's app sends many purchases at once with the right PIN: none is refused."""
    user = UserFactory()
    outcomes = _race_pins(user.pk, [PIN] * 20)
    assert outcomes == ["ok"] * 20
    user.refresh_from_db()
    assert user.pin_failed_attempts == 0 and user.pin_locked_until is None


@pytest.mark.django_db(transaction=True)
def test_parallel_pin_change_requests_with_wrong_current_pin_lock_at_the_limit():
    user = UserFactory()
    barrier = threading.Barrier(12)
    statuses: list[str] = []

    def change() -> None:
        client = authenticate(APIClient(), user)
        barrier.wait()
        response = client.post("/api/v1/auth/pin", {"pin": "2222", "current_pin": "9999"}, format="json")
        statuses.append(response.json()["error_code"])
        connection.close()

    threads = [threading.Thread(target=change) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses.count("PIN_INVALID") == 4
    assert statuses.count("PIN_LOCKED") == 8
    user.refresh_from_db()
    assert user.pin_hash == pins.pin_digest(user_id=user.pk, pin=PIN)
