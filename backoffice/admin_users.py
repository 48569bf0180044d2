"""The staff page for accounts.User: find a customer, read their state, suspend or re-activate
them and change their KYC tier, each with a reason, through accounts.services (which audit).

Nothing on the page edits a user directly: every field is read-only, users are not added
or deleted here, and the password hash, PIN hash and Google subject id are never shown.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from accounts import phones, services
from accounts.errors import InvalidPhoneNumber
from accounts.models import User
from audit.selectors import audit_for_target
from audit.services import Actor
from backoffice import user_activity
from backoffice.forms import KycTierForm, ReasonForm, StaffRoleForm
from backoffice.staff_rules import ensure_may_change_user
from config.errors import ApiError
from wallets.models import LedgerAccount

SUSPEND_PERM = "backoffice.user_suspend"
STAFF_ROLE_PERM = "backoffice.staff_role_set"
_WALLET_NUMBER = re.compile(r"^[1-9][0-9]{9}$")
KYC_PERM = "backoffice.user_kyc_tier_set"


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Suspended"), ("no", "Not suspended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(suspended_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(suspended_at__isnull=True)
        return queryset


def _phone_query(term: str) -> str | None:
    """'0803 123 4567' or '2348031234567' -> '+2348031234567' when it is a mobile number."""
    if not any(ch.isdigit() for ch in term) or any(ch.isalpha() or ch == "@" for ch in term):
        return None
    try:
        return phones.normalize_ng_mobile(term)
    except InvalidPhoneNumber:
        return None


@admin.register(User)
class StaffUserAdmin(admin.ModelAdmin):
    list_display = ("email", "phone", "full_name", "role", "kyc_tier", "is_staff", "is_suspended_flag", "date_joined")
    list_filter = (SuspendedFilter, "role", "kyc_tier", "is_staff")
    search_fields = ("email", "phone", "first_name", "last_name")
    search_help_text = "E-mail, phone (any format: 0803…, +234…), wallet number, or name."
    ordering = ("-date_joined",)
    show_full_result_count = False
    actions = ("suspend_users", "activate_users")
    change_form_template = "backoffice/user_change_form.html"
    fieldsets = (
        ("Identity", {"fields": ("email", "first_name", "last_name", "phone", "role", "date_joined", "email_verified_at", "google_linked")}),
        ("Standing", {"fields": ("kyc_tier", "suspended_at", "suspension_reason")}),
        ("Wallet", {"fields": ("wallet_summary", "recent_activity", "recent_purchases", "recent_deposits")}),
        ("Security", {"fields": ("pin_is_set", "pin_failed_attempts", "pin_locked_until", "last_login", "two_factor")}),
        ("Staff", {"fields": ("is_staff", "is_superuser", "staff_groups")}),
        ("Audit trail", {"fields": ("audit_trail",)}),
    )
    readonly_fields = (
        "email", "first_name", "last_name", "phone", "role", "date_joined", "email_verified_at", "google_linked",
        "kyc_tier", "suspended_at", "suspension_reason", "pin_is_set", "pin_failed_attempts", "pin_locked_until",
        "last_login", "two_factor", "is_staff", "is_superuser", "staff_groups", "audit_trail",
        "wallet_summary", "recent_activity", "recent_purchases", "recent_deposits",
    )

    # --- permissions: read-only page; actions by backoffice permissions -----------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SUSPEND_PERM)

    def has_kyc_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(KYC_PERM)

    # --- display ------------------------------------------------------------------------------

    @admin.display(boolean=True, description="suspended")
    def is_suspended_flag(self, obj: User) -> bool:
        return obj.is_suspended

    @admin.display(boolean=True, description="Google linked")
    def google_linked(self, obj: User) -> bool:
        return bool(obj.google_sub)

    @admin.display(boolean=True, description="PIN set")
    def pin_is_set(self, obj: User) -> bool:
        return obj.pin_set

    @admin.display(boolean=True, description="two-factor device")
    def two_factor(self, obj: User) -> bool:
        from backoffice.otp import has_device

        return has_device(obj)

    @admin.display(description="groups")
    def staff_groups(self, obj: User) -> str:
        return ", ".join(obj.groups.order_by("name").values_list("name", flat=True)) or "—"

    @admin.display(description="latest audit rows")
    def audit_trail(self, obj: User) -> str:
        rows = list(audit_for_target(target=obj).order_by("-id")[:20])
        if not rows:
            return "—"
        return format_html(
            "<table><tr><th>when</th><th>who</th><th>action</th><th>reason</th></tr>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((f"{row.created_at:%Y-%m-%d %H:%M}", row.actor_label, row.action, row.reason) for row in rows),
            ),
        )

    @admin.display(description="wallet")
    def wallet_summary(self, obj: User) -> str:
        return user_activity.wallet_summary(obj)

    @admin.display(description="recent transactions")
    def recent_activity(self, obj: User) -> str:
        return user_activity.recent_activity(obj)

    @admin.display(description="recent purchases")
    def recent_purchases(self, obj: User) -> str:
        return user_activity.recent_purchases(obj)

    @admin.display(description="recent deposits")
    def recent_deposits(self, obj: User) -> str:
        return user_activity.recent_deposits(obj)

    # --- search: phones in any format ----------------------------------------------------------

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        wanted = Q()
        if _WALLET_NUMBER.match(term):
            # A 10-digit wallet number (it could also be a phone typed without its 0).
            wanted |= Q(pk__in=LedgerAccount.objects.filter(number=term, kind=LedgerAccount.Kind.CUSTOMER).values("user_id"))
        phone = _phone_query(term)
        if phone is not None:
            wanted |= Q(phone=phone)
        if wanted:
            return queryset.filter(wanted), False
        return super().get_search_results(request, queryset, search_term)

    # --- per-user pages: suspend / activate / KYC tier ----------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path("<path:object_id>/suspend/", wrap(self.suspend_view), name="accounts_user_suspend"),
            path("<path:object_id>/activate/", wrap(self.activate_view), name="accounts_user_activate"),
            path("<path:object_id>/kyc-tier/", wrap(self.kyc_tier_view), name="accounts_user_kyc_tier"),
            path("<path:object_id>/staff-role/", wrap(self.staff_role_view), name="accounts_user_staff_role"),
        ]
        return own + super().get_urls()

    def suspend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._reason_view(request, object_id, perm=SUSPEND_PERM, verb="Suspend", service=services.user_suspend)

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._reason_view(request, object_id, perm=SUSPEND_PERM, verb="Re-activate", service=services.user_activate)

    def kyc_tier_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._reason_view(request, object_id, perm=KYC_PERM, verb="Change the KYC tier of", service=services.user_kyc_tier_set, form_class=KycTierForm)

    def staff_role_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """An administrator makes someone staff in one group, moves them, or removes their
        staff access (accounts.services.staff_role_set; audited as staff.role_set)."""
        current = User.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        group = (current.groups.order_by("name").values_list("name", flat=True).first() or "") if current else ""
        initial_group = group if current is not None and current.is_staff else ""
        return self._reason_view(
            request, object_id, perm=STAFF_ROLE_PERM, verb="Set the staff role of", form_class=StaffRoleForm,
            service=lambda staff, user_id, reason, group: services.staff_role_set(
                staff=staff, user_id=user_id, group=group or None, reason=reason),
            initial={"group": initial_group},
        )

    def _reason_view(
        self, request: HttpRequest, object_id: str, *, perm: str, verb: str, service: Any,
        form_class: type[ReasonForm] = ReasonForm, initial: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not request.user.has_perm(perm):
            raise PermissionDenied
        user = User.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if user is None:
            raise Http404("No such user.")
        initial = initial or ({"tier": user.kyc_tier} if form_class is KycTierForm else {})
        form = form_class(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            extra = {name: value for name, value in form.cleaned_data.items() if name in ("tier", "group")}
            try:
                ensure_may_change_user(staff=request.user, user_id=user.pk)
                service(staff=Actor.from_request(request), user_id=user.pk, reason=form.cleaned_data["reason"], **extra)
            except ApiError as error:
                form.add_error(None, error.detail)
            else:
                self.message_user(request, f"{verb} {user.email}: done.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request), "title": f"{verb} {user.email}", "opts": self.opts,
            "form": form, "target": user, "verb": verb,
        }
        return TemplateResponse(request, "backoffice/action_reason.html", context)

    # --- bulk actions -----------------------------------------------------------------------

    @admin.action(permissions=["suspend"], description="Suspend selected users (asks for a reason)")
    def suspend_users(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._bulk(request, queryset, action="suspend_users", verb="Suspend", service=services.user_suspend)

    @admin.action(permissions=["suspend"], description="Re-activate selected users (asks for a reason)")
    def activate_users(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._bulk(request, queryset, action="activate_users", verb="Re-activate", service=services.user_activate)

    def _bulk(self, request: HttpRequest, queryset: QuerySet, *, action: str, verb: str, service: Any) -> HttpResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                for user in queryset.order_by("pk"):
                    ensure_may_change_user(staff=request.user, user_id=user.pk)
            except ApiError as error:
                self.message_user(request, f"Nothing done: {error.detail}", messages.ERROR)
                return None
            actor = Actor.from_request(request)
            for user in queryset.order_by("pk"):
                service(staff=actor, user_id=user.pk, reason=form.cleaned_data["reason"])
            self.message_user(request, f"{verb}: {queryset.count()} user(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request), "title": f"{verb} {queryset.count()} user(s)", "opts": self.opts,
            "form": form, "queryset": queryset, "action": action, "verb": verb,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "backoffice/action_reason.html", context)
