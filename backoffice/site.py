"""StaffAdminSite: the Django admin site every app registers on (see backoffice/apps.py).

On top of Django's own check (an active staff user) a request needs a fresh staff session
and, where two-factor applies, a session verified by a TOTP code (backoffice/otp.py). The
index is the dashboard (backoffice/dashboard.py); every page carries the open-alerts banner.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.safestring import mark_safe


class StaffLoginView(LoginView):
    def form_valid(self, form: Any) -> HttpResponse:
        from accounts.staff_otp import staff_login_record
        from backoffice import otp

        user = form.get_user()
        response = super().form_valid(form)  # rotates the session; django-otp stores the device
        otp.mark_login(self.request)
        staff_login_record(user=user, second_factor=getattr(user, "otp_device", None) is not None, channel="console")
        return response


class StaffAdminSite(admin.AdminSite):
    site_header = "VTU back office"
    site_title = "VTU back office"
    index_title = "Dashboard"
    index_template = "backoffice/dashboard.html"
    login_template = "backoffice/login.html"

    @property
    def login_form(self) -> Any:  # imported late: the form module imports models
        from backoffice.forms import StaffLoginForm

        return StaffLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        from backoffice import otp

        if not super().has_permission(request) or getattr(request.user, "suspended_at", None) is not None:
            return False  # a suspended staff member is out of the console too
        return otp.staff_access_ok(request)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        from backoffice import dashboard

        context = super().each_context(request)
        if context["has_permission"]:
            context["staff_alerts"] = dashboard.open_alerts_banner()
        return context

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        view = StaffLoginView.as_view(
            extra_context=context, authentication_form=self.login_form, template_name=self.login_template
        )
        return view(request)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from backoffice import dashboard

        context = dashboard.dashboard_context(request)
        context.update(extra_context or {})
        return super().index(request, context)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("two-factor/", self.admin_view(self.otp_enrol_view), name="otp_enrol"),
            path("exports/", self.admin_view(self.export_view), name="exports"),
        ]
        return own + super().get_urls()

    def export_view(self, request: HttpRequest) -> HttpResponse:
        from backoffice import exports

        return exports.export_view(request, self)

    def otp_enrol_view(self, request: HttpRequest) -> HttpResponse:
        """A logged-in staff member sets up their own authenticator app: scan, type a code."""
        import django_otp

        from backoffice import otp, services
        from backoffice.forms import OtpTokenForm

        context: dict[str, Any] = {**self.each_context(request), "title": "Two-factor authentication"}
        if otp.has_device(request.user):
            context["enrolled"] = True
            return TemplateResponse(request, "backoffice/otp_enrol.html", context)
        device = otp.enrolment_device(request.user)
        form = OtpTokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            confirmed = services.staff_otp_confirm(
                user=request.user, device_id=device.pk, token=form.cleaned_data["token"]
            )
            if confirmed is not None:
                django_otp.login(request, confirmed)
                messages.success(request, "Two-factor authentication is on: every login now asks for a code.")
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            form.add_error("token", "That code does not match. Check the phone's clock and try the next code.")
        svg = otp.qr_svg(device.config_url)
        context.update(
            enrolled=False, form=form, otpauth_url=device.config_url,
            qr_svg=mark_safe(svg[svg.index("<svg"):]),  # noqa: S308 - our own generated SVG
        )
        return TemplateResponse(request, "backoffice/otp_enrol.html", context)
