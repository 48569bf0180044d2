"""The two pages e-mail links open: verify the address, set a new password.

Plain server-rendered forms (no JavaScript) calling the same services as the API. The
verify page asks for a click (POST) so that mail scanners prefetching links do not verify.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts import services
from config.errors import ApiError


class ResetForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=512)
    new_password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)


@require_http_methods(["GET", "POST"])
def verify_email_page(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token", "")
    context = {"token": token[:512], "done": False, "error": ""}
    if request.method == "POST":
        try:
            services.user_email_verify(token=token[:512])
            context["done"] = True
        except ApiError as exc:
            context["error"] = exc.detail
    return render(request, "accounts/verify_email.html", context)


@require_http_methods(["GET", "POST"])
def reset_password_page(request: HttpRequest) -> HttpResponse:
    form = ResetForm(request.POST or None, initial={"token": request.GET.get("token", "")[:512]})
    context: dict = {"form": form, "done": False, "error": ""}
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset(token=form.cleaned_data["token"], new_password=form.cleaned_data["new_password"])
            context["done"] = True
        except ApiError as exc:
            context["error"] = "; ".join(str(m) for msgs in exc.errors.values() for m in msgs) or exc.detail
    return render(request, "accounts/reset_password.html", context)
