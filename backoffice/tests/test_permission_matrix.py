"""The permission matrix: every admin page, admin action and custom admin URL of the admin
registry, and every /api/v1/admin/ endpoint of the URLconf, requested as anonymous, a
customer, and staff of each group, against the declared table (access_table.py).

The rows are built from the live registry and URLconf, so a page added later by any app is
picked up: if the table does not declare it, test_everything_is_declared fails and names
it. Standard model pages derive their expected status from the table:

    page            allowed                        not allowed   anonymous / customer
    changelist      200                            403           302 to the login page
    add             200                            403           302
    change (GET)    200 (302 if no object exists)  403           302
    delete (GET)    200 (302 if no object exists)  403           302
    history         200 (302 if no object exists)  403           302

Admin actions are checked by what Django offers each role (`get_actions`, the same list
`response_action` accepts), and the change permission by `has_change_permission`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import KYCSubmission, User
from accounts.tests.factories import UserFactory
from backoffice.tests.access_table import CUSTOM_ADMIN_URLS, KNOWN_GAPS, MODELS, OK, SITE_URLS, STAFF_API, ModelAccess
from backoffice.tests.factories import ROLES, user_for_role
from config.api.permissions import IsStaff
from conftest import authenticate

pytestmark = pytest.mark.django_db
STANDARD_PAGES = ("changelist", "add", "change", "delete", "history")
STAFF_API_PREFIX = "api/v1/admin/"
MISSING_PK = "999999999"


# --- what exists: the admin registry and the URLconf ---------------------------------------


def _label(model: Any) -> str:
    return model._meta.label_lower


def _url_prefix(model: Any) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


def registered_models() -> dict[str, Any]:
    return {_label(model): model for model in admin.site._registry}


def _walk(patterns: list, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def admin_url_names() -> dict[str, URLPattern]:
    return {pattern.name: pattern for _route, pattern in _walk(admin.site.get_urls()) if pattern.name}


def custom_url_owner() -> dict[str, Any]:
    """Custom (non-standard) admin URL name -> the model whose ModelAdmin defines it."""
    owners = {}
    for model, model_admin in admin.site._registry.items():
        standard = {f"{_url_prefix(model)}_{page}" for page in (*STANDARD_PAGES, "autocomplete")}
        for pattern in model_admin.get_urls():
            if pattern.name and pattern.name not in standard:
                owners[pattern.name] = model
    return owners


def _staff_only(view_class: Any) -> bool:
    return any(isinstance(cls, type) and issubclass(cls, IsStaff) for cls in getattr(view_class, "permission_classes", ()))


def staff_api_routes() -> dict[str, tuple[str, Any]]:
    """url name -> (route, view class) for every URL under /api/v1/admin/, and every other API
    view whose permissions are staff-only (IsStaff or a subclass)."""
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "view_class", None)
        if route.startswith(STAFF_API_PREFIX) or (route.startswith("api/") and _staff_only(view_class)):
            routes[pattern.name or route] = (route, view_class)
    return routes


def _action_names(model_admin: Any, user: User) -> set[str]:
    request = RequestFactory().get("/")
    request.user = user
    return set(model_admin.get_actions(request))


# --- fixtures: users per role and sample objects -------------------------------------------


@pytest.fixture
def users() -> dict[str, User | None]:
    return {role: user_for_role(role) for role in ROLES}


def _kyc_submission() -> KYCSubmission:
    return KYCSubmission.objects.create(
        user=UserFactory(), id_type="bvn", id_number_masked="*******1234", id_number_hmac="0" * 64,
        date_of_birth=dt.date(1990, 1, 1), requested_tier=1,
    )


def _totp_device() -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=UserFactory(is_staff=True, pin=""), name="phone", confirmed=True)


def _wallet() -> Any:
    from wallets.services import wallet_get_or_create

    return wallet_get_or_create(user_id=UserFactory().pk)


def _pending_adjustment() -> Any:
    from django.conf import settings

    from audit.services import Actor
    from wallets.services import adjustment_request

    return adjustment_request(
        staff=Actor.for_user(UserFactory(is_staff=True, pin="")), account_id=_wallet().pk, direction="credit",
        amount_kobo=settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO + 1, reason="matrix sample",
    )


def _purchase() -> Any:
    from backoffice.tests.known_fixture import purchase

    return purchase(UserFactory(), "MTN", "amigo", "successful", 10_000, 9_700, dt.datetime.now(dt.UTC))


def _dispute() -> Any:
    from vtu.models import Dispute

    bought = _purchase()
    return Dispute.objects.create(purchase=bought, user=bought.user, reason="matrix sample")


def _deposit() -> Any:
    from payments.models import Deposit

    return Deposit.objects.create(user=UserFactory(), gateway="paystack", reference=f"MX{UserFactory().pk}",
                                  amount_kobo=10_000, status="needs_review")


def _webhook_event() -> Any:
    from payments.models import WebhookEvent

    return WebhookEvent.objects.create(gateway="paystack", dedupe_key=f"mx-{UserFactory().pk}", event_type="charge.success",
                                       kind="payment")


# model label -> a factory for an object the custom URLs (and object pages) are requested with.
SAMPLES: dict[str, Callable[[], Any]] = {
    "accounts.user": lambda: UserFactory(),
    "accounts.kycsubmission": _kyc_submission,
    "otp_totp.totpdevice": _totp_device,
    "wallets.ledgeraccount": _wallet,
    "wallets.adjustment": _pending_adjustment,
    "vtu.purchase": _purchase,
    "vtu.dispute": _dispute,
    "payments.deposit": _deposit,
    "payments.webhookevent": _webhook_event,
}


def _sample_pk(model: Any) -> str:
    factory = SAMPLES.get(_label(model))
    if factory is not None:
        return str(factory().pk)
    first = model._default_manager.order_by("pk").first()
    return str(first.pk) if first is not None else MISSING_PK


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _status(client: Client, url: str) -> int:
    return client.get(url).status_code


def _matches(got: object, want: object) -> bool:
    if want == OK:
        return got not in (401, 403)
    return got == want


def _compare(cell: str, got: object, want: object) -> str | None:
    """None when the cell is as declared; else what is wrong. A KNOWN_GAPS cell must still
    behave as the gap says (once fixed, the entry has to go)."""
    gap = KNOWN_GAPS.get(cell)
    if gap is not None:
        if _matches(got, want):
            return f"{cell}: now follows the policy ({got}); remove it from KNOWN_GAPS"
        want = gap
    return None if _matches(got, want) else f"{cell}: got {got}, expected {want}"


# --- the declaration check -------------------------------------------------------------------


def declaration_problems() -> dict[str, dict[str, list[str]]]:
    """What exists but is not declared, and what is declared but no longer exists."""
    models = registered_models()
    names = admin_url_names()
    standard = {f"{_url_prefix(model)}_{page}" for model in models.values() for page in (*STANDARD_PAGES, "autocomplete")}
    owners = custom_url_owner()
    customs = {name for name in names if name not in standard and name in owners}
    site = {name for name in names if name not in standard and name not in owners}
    api = set(staff_api_routes())
    known = {"api": set(STAFF_API), "page": set(MODELS), "action": set(MODELS)}
    undeclared = {
        "models": sorted(set(models) - set(MODELS)),
        "custom admin URLs": sorted(customs - set(CUSTOM_ADMIN_URLS)),
        "site admin URLs": sorted(site - set(SITE_URLS)),
        "staff API endpoints": sorted(api - set(STAFF_API)),
    }
    stale = {
        "models": sorted(set(MODELS) - set(models)),
        "custom admin URLs": sorted(set(CUSTOM_ADMIN_URLS) - customs),
        "site admin URLs": sorted(set(SITE_URLS) - site),
        "staff API endpoints": sorted(set(STAFF_API) - api),
        "known gaps": sorted(cell for cell in KNOWN_GAPS if cell.split(":")[1] not in known[cell.split(":")[0]]),
    }
    return {
        "undeclared (declare them in backoffice/tests/access_table.py)": {k: v for k, v in undeclared.items() if v},
        "stale (remove them from backoffice/tests/access_table.py)": {k: v for k, v in stale.items() if v},
    }


def test_everything_is_declared():
    assert declaration_problems() == {
        "undeclared (declare them in backoffice/tests/access_table.py)": {},
        "stale (remove them from backoffice/tests/access_table.py)": {},
    }


def test_a_page_registered_without_a_declaration_is_caught():
    from django.contrib.auth.models import Permission

    admin.site.register(Permission)
    try:
        problems = declaration_problems()
    finally:
        admin.site.unregister(Permission)
    assert problems["undeclared (declare them in backoffice/tests/access_table.py)"] == {"models": ["auth.permission"]}


def test_every_admin_action_is_declared(users):
    undeclared = {}
    for label, model in registered_models().items():
        model_admin = admin.site._registry[model]
        # Actions only matter to roles that reach the change list: staff.
        offered = set().union(*(_action_names(model_admin, users[role]) for role in ("support", "finance", "admin")))
        declared = set(MODELS[label].actions) if label in MODELS else set()
        if offered - declared:
            undeclared[label] = sorted(offered - declared)
    assert undeclared == {}, "declare these actions in backoffice/tests/access_table.py"


# --- the cells ------------------------------------------------------------------------------


def _expected_page(access: ModelAccess, role: str, page: str, exists: bool) -> int:
    if role in ("anonymous", "customer"):
        return 302
    allowed = {
        "changelist": access.view | access.change,
        "add": access.add,
        "change": access.view | access.change,
        "delete": access.delete,
        "history": access.view | access.change,
    }[page]
    if page == "history" and not exists:
        return 302  # Django redirects before checking permissions when the object is missing
    if role not in allowed:
        return 403
    return 200 if exists or page in ("changelist", "add") else 302


@pytest.mark.parametrize("label", sorted(registered_models()))
def test_model_pages_and_actions(label, users):
    access = MODELS.get(label)
    if access is None:
        pytest.fail(f"{label} has an admin page but no row in backoffice/tests/access_table.py")
    model = registered_models()[label]
    model_admin = admin.site._registry[model]
    pk = _sample_pk(model)
    exists = pk != MISSING_PK
    prefix = _url_prefix(model)
    problems = []
    for role in ROLES:
        client = _client(users[role])
        for page in STANDARD_PAGES:
            url = reverse(f"admin:{prefix}_{page}", args=[] if page in ("changelist", "add") else [pk])
            got, want = _status(client, url), _expected_page(access, role, page, exists)
            problems.append(_compare(f"page:{label}:{page}:{role}", got, want))
        if role in ("anonymous", "customer"):
            continue  # they never reach a change list, so actions and saving do not apply
        request = RequestFactory().get("/")
        request.user = users[role]
        problems.append(_compare(f"page:{label}:save:{role}", model_admin.has_change_permission(request), role in access.change))
        user = users[role]
        if role not in access.view | access.change:
            continue  # the change list (where actions run) answers 403, checked above
        offered = sorted(_action_names(model_admin, user))
        wanted = sorted(name for name, groups in access.actions.items() if role in groups)
        problems.append(_compare(f"action:{label}:{role}", offered, wanted))
    assert [problem for problem in problems if problem] == []


@pytest.mark.parametrize("name", sorted(CUSTOM_ADMIN_URLS))
def test_custom_admin_urls(name, users):
    model = custom_url_owner().get(name)
    assert model is not None, f"{name} is declared but no admin page defines it"
    pattern = admin_url_names()[name]
    kwarg = next(iter(pattern.pattern.converters), None) or next(iter(pattern.pattern.regex.groupindex), None)
    kwargs = {kwarg: _sample_pk(model)} if kwarg else {}
    url = reverse(f"admin:{name}", kwargs=kwargs)
    expected = {"anonymous": 302, "customer": 302, **CUSTOM_ADMIN_URLS[name]}
    got = {role: _status(_client(users[role]), url) for role in ROLES}
    assert got == expected, url


def _site_url(name: str) -> list[tuple[str, dict[str, int] | None]]:
    """The URLs to request for one site-wide name (app_list: one per app label)."""
    if name == "app_list":
        apps = sorted({model._meta.app_label for model in admin.site._registry})
        return [(reverse("admin:app_list", args=[app]), _app_expectation(app)) for app in apps]
    if name == "view_on_site":
        content_type = ContentType.objects.get_for_model(User)
        return [(reverse("admin:view_on_site", args=[content_type.pk, UserFactory().pk]), None)]
    return [(reverse(f"admin:{name}"), None)]


def _app_expectation(app_label: str) -> dict[str, int]:
    expected = {"anonymous": 302, "customer": 302}
    for role in ("support", "finance", "admin"):
        sees = any(
            role in (access.view | access.change) for label, access in MODELS.items() if label.split(".")[0] == app_label
        )
        expected[role] = 200 if sees else 404
    return expected


@pytest.mark.parametrize("name", sorted(SITE_URLS))
def test_site_admin_urls(name, users):
    for url, derived in _site_url(name):
        expected = derived or SITE_URLS[name]
        got = {role: _status(_client(users[role]), url) for role in ROLES}
        assert got == expected, url


# --- staff API --------------------------------------------------------------------------------


def _api_client(user: User | None) -> APIClient:
    client = APIClient()
    return authenticate(client, user) if user is not None else client


def _api_path(route: str) -> str:
    """A user id is a fresh customer (so one role's suspension does not change the next
    role's answer); any other parameter is an id or number that does not exist."""
    path = route.replace("<int:user_id>", str(UserFactory().pk))
    path = re.sub(r"<int:[a-z_]+>", MISSING_PK, path)
    return "/" + re.sub(r"<(?:str|slug|path):[a-z_]+>", "0000000000", path)


REFUSAL_CODES = {401: {"anonymous": "NOT_AUTHENTICATED"}, 403: {"customer": "STAFF_ONLY", "support": "PERMISSION_DENIED",
                                                             "finance": "PERMISSION_DENIED", "admin": "PERMISSION_DENIED"}}


def _api_call(route: str, method: str, client: APIClient, role: str) -> int | str:
    """The status, or "<status> <error code>" when a refusal carries the wrong code."""
    body = {"reason": "permission matrix"} if method == "POST" and "users/" in route else {}
    response = getattr(client, method.lower())(_api_path(route), body, format="json")
    want_code = REFUSAL_CODES.get(response.status_code, {}).get(role)
    if want_code is not None and response.json().get("error_code") != want_code:
        return f"{response.status_code} {response.json().get('error_code')}"
    return response.status_code


@pytest.mark.parametrize("name", sorted(STAFF_API))
def test_staff_api_endpoints(name, users):
    routes = staff_api_routes()
    assert name in routes, f"{name} is declared but not routed under /{STAFF_API_PREFIX}"
    route, view_class = routes[name]
    handled = {method.upper() for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)}
    assert handled == set(STAFF_API[name]), f"{name}: declare every method it handles"
    problems = []
    for method, expected in STAFF_API[name].items():
        for role in ROLES:
            got = _api_call(route, method, _api_client(users[role]), role)
            problems.append(_compare(f"api:{name}:{method}:{role}", got, expected[role]))
    assert [problem for problem in problems if problem] == []


# --- staff API: the second factor and the staff session (the same endpoints, three more columns)


def _second_factor_clients() -> dict[str, tuple[APIClient, int | str]]:
    """Column -> (client, the expected answer on every endpoint; "admin" means the admin
    column of STAFF_API). An admin-group member with a confirmed device, with STAFF_2FA_REQUIRED
    on: a token without the code (issued before enrolment, or by a login that did not need
    it) is refused; with the code the admin's own cells apply. A token issued before its
    holder was made staff is not a staff session and is refused too."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    without_code, with_code = user_for_role("admin"), user_for_role("admin")
    for user in (without_code, with_code):
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    promoted = UserFactory()
    promoted_client = authenticate(APIClient(), promoted)
    User.objects.filter(pk=promoted.pk).update(is_staff=True)
    promoted.groups.add(Group.objects.get(name="admin"))
    return {
        "admin without the code": (authenticate(APIClient(), without_code, otp_verified=False), "403 OTP_REQUIRED"),
        "admin with the code": (authenticate(APIClient(), with_code, otp_verified=True), "admin"),
        "token from before staff": (promoted_client, "401 TOKEN_INVALID"),
    }


def _api_answer(route: str, method: str, client: APIClient) -> int | str:
    body = {"reason": "permission matrix"} if method == "POST" and "users/" in route else {}
    response = getattr(client, method.lower())(_api_path(route), body, format="json")
    if response.status_code in (401, 403):
        return f"{response.status_code} {response.json().get('error_code')}"
    return response.status_code


@pytest.mark.parametrize("name", sorted(STAFF_API))
def test_staff_api_second_factor_and_session_cells(name, settings):
    settings.STAFF_2FA_REQUIRED = True
    route, _view = staff_api_routes()[name]
    problems = []
    for method, expected in STAFF_API[name].items():
        for column, (client, want) in _second_factor_clients().items():
            want = expected["admin"] if want == "admin" else want
            got = _api_answer(route, method, client)
            if got != want:
                problems.append(f"api:{name}:{method}:{column}: got {got}, expected {want}")
    assert problems == []
