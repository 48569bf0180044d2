"""Console pages for staff actions that take a reason (saved in the audit log with the staff
member's name): the form, the confirmation page, and the permission check.

Here, at layer 0, so that every app's admin can use them without importing the back office.
The services behind the actions own their transaction and audit record; these helpers only
ask for the reason, call the service, and report its refusal (ApiError) on the page without
changing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from config.errors import ApiError

REASON_TEMPLATE = "backoffice/action_reason.html"


class ReasonForm(forms.Form):
    """The confirmation page of a staff action that needs a reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=1000, strip=True,
        help_text="Required. Saved in the audit log with your name.",
    )


def require_perm(request: HttpRequest, perm: str) -> None:
    """403 unless the staff member holds `perm` (a backoffice.* or model permission)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def action_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, *, verb: str, form: forms.Form, target: Any = None,
    queryset: Any = None, action: str = "", intro: str = "",
) -> TemplateResponse:
    """The confirmation page: one object (`target`) or the objects of a change-list action."""
    context = {
        **model_admin.admin_site.each_context(request), "title": f"{verb} {target}" if target is not None else verb,
        "opts": model_admin.opts, "form": form, "target": target, "verb": verb, "intro": intro,
        "queryset": queryset, "action": action, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, REASON_TEMPLATE, context)


def object_action(
    request: HttpRequest, model_admin: admin.ModelAdmin, *, target: Any, verb: str, form_class: type[forms.Form],
    call: Callable[[dict[str, Any]], str], done_url: str, intro: str = "", initial: dict[str, Any] | None = None,
) -> HttpResponse:
    """GET: the form. POST: validate, `call(cleaned_data)` (the service; returns the message
    to show), redirect to `done_url`. A service refusal (ApiError) is shown on the form and
    nothing is done."""
    form = form_class(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            message = call(form.cleaned_data)
        except ApiError as error:
            form.add_error(None, _explain(error))
        else:
            model_admin.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(done_url)
    return action_page(request, model_admin, verb=verb, form=form, target=target, intro=intro)


def bulk_action(
    request: HttpRequest, model_admin: admin.ModelAdmin, queryset: Any, *, action: str, verb: str,
    call: Callable[[Any, dict[str, Any]], Any], form_class: type[forms.Form] = ReasonForm,
) -> HttpResponse | None:
    """A change-list action that first asks for a reason, then calls the service for each
    selected object, reporting each refusal by name (the others still go through: each call
    is its own transaction)."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" not in request.POST or not form.is_valid():
        return action_page(request, model_admin, verb=verb, form=form, queryset=queryset, action=action)
    done = 0
    for obj in queryset.order_by("pk"):
        try:
            call(obj, form.cleaned_data)
            done += 1
        except ApiError as error:
            model_admin.message_user(request, f"{obj}: {_explain(error)}", messages.ERROR)
    model_admin.message_user(request, f"{verb}: {done} done.", messages.SUCCESS if done else messages.WARNING)
    return None


def _explain(error: ApiError) -> str:
    if not error.errors:
        return str(error.detail)
    fields = "; ".join(
        f"{field}: {' '.join(map(str, problems)) if isinstance(problems, (list, tuple)) else problems}"
        for field, problems in error.errors.items()
    )
    return f"{error.detail} ({fields})"
