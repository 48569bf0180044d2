"""The console in a real browser: Playwright driving the system Chromium against a live server.

A finance officer logs in, finds a purchase by the customer's phone, requeries it (the
provider says delivered), credits the customer's wallet above the approval threshold; an
administrator logs in and approves it; the dashboard renders with its charts. Screenshots go
to test-artifacts/browser/ (gitignored).

Chromium comes from Debian's `chromium` package (`playwright install` cannot download
browsers here): `make test` installs it when missing and it can (scripts/ensure_chromium).
Where it cannot, these tests skip with a loud message; with CI=true a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from accounts.tests.factories import PASSWORD
from audit.models import AuditLog
from backoffice.roles import staff_groups_sync
from backoffice.tests.factories import staff_user
from vtu.models import Purchase
from vtu.services.purchases import PurchaseRequest, purchase_create
from vtu.tests.conftest import MTN_NUMBER, PLAN
from wallets.models import Adjustment
from wallets.services import wallet_get_or_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
THRESHOLD = 100_000  # ₦1,000: the ₦5,000 credit below needs a second staff member


def _unavailable(why: str) -> None:
    message = (f"BROWSER TESTS NOT RUN: {why}. Install Debian's chromium (make test does it as root on Debian: "
               "scripts/ensure_chromium) to run the console's browser test.")
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing browser is a failure)")
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@pytest.fixture
def browser_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh Chromium profile per test (--user-data-dir), headless, no network of its own."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements-dev.txt)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which("chromium"):
        _unavailable(f"no Chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vtu-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium"),
            headless=True, args=FLAGS, viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()
            # While Playwright runs, the ORM calls of the test get a connection of their own
            # (asgiref's context-local connections): close it, or it outlives the test database.
            from django.db import connections

            connections.close_all()


@pytest.fixture
def console(settings, catalogue, buyer) -> dict[str, Any]:
    """Staff groups (a transactional test may have flushed them), two staff members with
    passwords, cookies that work over plain http on 127.0.0.1, the approval threshold."""
    staff_groups_sync()
    settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO = THRESHOLD
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    return {
        "finance": staff_user("finance", email="ngozi.finance@example.com"),
        "admin": staff_user("admin", email="tunde.admin@example.com"),
        "buyer": buyer,
    }


@pytest.fixture
def console_server(transactional_db: None) -> Iterator[Any]:
    """A live server for this test only (pytest-django's live_server lives for the session, so
    its thread still holds a database connection when the test database is dropped)."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1:0")
    server._live_server_modified_settings.enable()
    try:
        yield server
    finally:
        server._live_server_modified_settings.disable()
        server.stop()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/{django_settings.ADMIN_URL}login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")


def message(page: Any) -> str:
    return page.inner_text("ul.messagelist")


def test_staff_requery_credit_with_approval_and_dashboard(console_server, browser_context, console, world, vtu_clock):
    from playwright.sync_api import expect

    world.script("alpha", "pending")
    purchase, _ = purchase_create(user=console["buyer"], request=PurchaseRequest(
        product="data", phone_number=MTN_NUMBER, plan_code=PLAN))
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PROCESSING
    world.settle(purchase.attempts.get().request_id, "delivered")  # the network delivered; nobody told us yet
    wallet = wallet_get_or_create(user_id=console["buyer"].pk)
    base, admin_url = console_server.url, django_settings.ADMIN_URL
    page = browser_context.new_page()

    # 1. Finance logs in and finds the purchase by the customer's phone, typed as they say it.
    log_in(page, base, console["finance"].email)
    page.goto(f"{base}/{admin_url}vtu/purchase/")
    page.fill("#searchbar", "0803 123 4567")
    page.press("#searchbar", "Enter")
    page.click(f"#result_list a:text-is('{purchase.reference}')")
    expect(page.locator("div.field-status")).to_contain_text(re.compile("processing", re.IGNORECASE))
    shot(page, "1-purchase-found")

    # 2. Requery now: the provider says delivered, the purchase settles.
    page.click("#purchase-requery")
    page.click("input[type=submit][value=Requery]")
    expect(page.locator("ul.messagelist")).to_contain_text(f"Requery of {purchase.reference} sent")
    expect(page.locator("div.field-status")).to_contain_text(re.compile("successful", re.IGNORECASE))
    shot(page, "2-purchase-requeried")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.SUCCESSFUL

    # 3. Finance credits the customer's wallet ₦5,000 for a bank transfer: above the threshold.
    page.goto(f"{base}/{admin_url}accounts/user/?q={console['buyer'].email}")
    page.click(f"#result_list a:text-is('{console['buyer'].email}')")
    page.click("#wallet-summary a")
    page.click("#wallet-adjust")
    page.check("input[name=direction][value=credit]")
    page.fill("#id_amount", "5,000")
    page.fill("#id_bank_reference", "GTB-000123")
    page.fill("#id_reason", "Bank transfer GTB-000123 seen on the statement")
    shot(page, "3-credit-form")
    page.click("input[type=submit]")
    expect(page.locator("ul.messagelist")).to_contain_text("waiting for a second staff member's approval")
    adjustment = Adjustment.objects.get()
    assert adjustment.status == Adjustment.Status.PENDING
    balance_before = wallet.__class__.objects.get(pk=wallet.pk).balance_kobo

    # 4. An administrator logs in and approves it.
    browser_context.clear_cookies()
    log_in(page, base, console["admin"].email)
    page.goto(f"{base}/{admin_url}wallets/adjustment/?status=pending_approval")
    page.click(f"#result_list a:text-is('{adjustment.pk}')")
    page.click("#adjustment-approve")
    page.click("input[type=submit][value=Approve]")
    expect(page.locator("ul.messagelist")).to_contain_text(f"Adjustment {adjustment.pk} approved and posted")
    shot(page, "4-credit-approved")
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id) == ("posted", console["admin"].pk)
    assert wallet.__class__.objects.get(pk=wallet.pk).balance_kobo == balance_before + 500_000

    # 5. The dashboard renders with its figures and charts.
    page.goto(f"{base}/{admin_url}")
    expect(page.locator("#today-sales .value")).to_have_text("₦300.00")
    expect(page.locator("#dashboard figure.chart svg")).to_have_count(4)
    assert page.locator("#dashboard figure.chart svg rect").count() >= 3  # sales, margin, delivered today
    shot(page, "5-dashboard")

    logins = AuditLog.objects.filter(action="staff.login").values_list("actor_user_id", flat=True)
    assert sorted(logins) == sorted([console["finance"].pk, console["admin"].pk])
    assert AuditLog.objects.filter(action__in=["purchase.requery", "adjustment.request", "adjustment.approve",
                                               "adjustment.post"]).count() == 4
    assert re.fullmatch(r"\d{10}", wallet.number)
