"""Fixtures of the reseller API tests (defined in reseller_fixtures.py), for every test here."""

from accounts.tests.reseller_fixtures import callback_certs, clock, receiver  # noqa: F401 - fixtures
