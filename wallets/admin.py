"""Back office for the ledger. Nobody edits a balance, an entry, a journal, a hold or an
adjustment here (superusers included): money moves only through the wallets services, from
the pages below, each with a reason and an audit record:

- a wallet's page: summary, active holds, latest entries; "Credit / debit" (an adjustment:
  posts at once unless it is above ADJUSTMENT_APPROVAL_THRESHOLD_KOBO or takes the wallet's
  adjustments of the Lagos day above it, else waits for a second, different staff member; a
  bank-transfer credit carries its unique bank reference; the form's one-time token makes a
  resubmitted form find the first adjustment, and the same adjustment again by the same
  staff member soon after needs a ticked confirmation), "Freeze" / "Unfreeze" with a
  reason, and the statement for a date range;
- adjustments: approve or reject a pending one (never the requester's own approval).

Who may do what is a backoffice.* permission checked by name (backoffice/roles.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from audit.admin_actions import ReasonForm, action_page, bulk_action, object_action, require_perm
from audit.services import Actor
from config.errors import ApiError
from wallets import selectors
from wallets.admin_forms import AdjustmentForm, StatementForm, naira, new_form_token
from wallets.errors import DuplicateAdjustment, IdempotencyConflict
from wallets.models import Adjustment, Entry, Hold, Journal, LedgerAccount, LedgerCheck
from wallets.services import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_request_key,
    wallet_freeze,
    wallet_unfreeze,
)

REQUEST_PERM = "backoffice.adjustment_request"
APPROVE_PERM = "backoffice.adjustment_approve"
FREEZE_PERM = "backoffice.wallet_freeze"
STATEMENT_MAX_LINES = 1000


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "amount_kobo", "balance_after_kobo", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "code", "kind", "user", "currency", "balance_naira", "held_naira", "status")
    list_filter = ("kind", "status", "currency")
    search_fields = ("=number", "code", "user__email")
    search_help_text = "Wallet number, account code or the owner's e-mail."
    list_select_related = ("user",)
    change_form_template = "admin/wallets/ledgeraccount/change_form.html"
    fields = ("number", "code", "kind", "user", "currency", "summary", "frozen_reason", "frozen_at", "created_at",
              "active_holds", "latest_entries")
    readonly_fields = fields

    @admin.display(description="balance")
    def balance_naira(self, account: LedgerAccount) -> str:
        return naira(account.balance_kobo) if account.materialised else "(from entries)"

    @admin.display(description="held")
    def held_naira(self, account: LedgerAccount) -> str:
        return naira(account.held_kobo)

    @admin.display(description="summary")
    def summary(self, account: LedgerAccount) -> str:
        balance = selectors.account_balance_kobo(account)
        if not account.materialised:
            return format_html("balance {} (sum of its entries)", naira(balance))
        return format_html(
            "balance <b>{}</b> · available <b>{}</b> · held {} · <b>{}</b>",
            naira(balance), naira(account.available_kobo), naira(account.held_kobo),
            "FROZEN" if account.is_frozen else account.status,
        )

    @admin.display(description="active holds")
    def active_holds(self, account: LedgerAccount) -> str:
        holds = list(Hold.objects.filter(account=account, status=Hold.Status.ACTIVE).order_by("-id")[:20])
        return _table(("reference", "amount", "since", "memo"),
                      [(h.reference, naira(h.amount_kobo), f"{h.created_at:%Y-%m-%d %H:%M}", h.memo) for h in holds])

    @admin.display(description="latest entries")
    def latest_entries(self, account: LedgerAccount) -> str:
        entries = list(Entry.objects.filter(account=account).select_related("journal").order_by("-id")[:20])
        return _table(
            ("when", "journal", "kind", "amount", "balance after"),
            [(f"{e.created_at:%Y-%m-%d %H:%M}", e.journal.idempotency_key, e.journal.kind, naira(e.amount_kobo),
              naira(e.balance_after_kobo)) for e in entries],
        )

    # --- per-wallet pages ----------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/adjust/", wrap(self.adjust_view), name="wallets_ledgeraccount_adjust"),
            path("<int:pk>/freeze/", wrap(self.freeze_view), name="wallets_ledgeraccount_freeze"),
            path("<int:pk>/unfreeze/", wrap(self.unfreeze_view), name="wallets_ledgeraccount_unfreeze"),
            path("<int:pk>/statement/", wrap(self.statement_view), name="wallets_ledgeraccount_statement"),
            *super().get_urls(),
        ]

    def _wallet(self, pk: int) -> LedgerAccount:
        wallet = LedgerAccount.objects.select_related("user").filter(pk=pk, kind=LedgerAccount.Kind.CUSTOMER).first()
        if wallet is None:
            raise Http404("No such customer wallet.")
        return wallet

    def adjust_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: the form, with a new one-time token. POST: the adjustment, or the form again
        with the refusal (a duplicate refusal offers the box that confirms a second one)."""
        require_perm(request, REQUEST_PERM)
        wallet = self._wallet(pk)
        bound = request.POST if request.method == "POST" else None
        form = AdjustmentForm(bound, initial={"request_token": new_form_token()})
        if form.is_valid():
            adjustment = _adjust(request, wallet, form)
            if adjustment is not None:
                self.message_user(request, *_adjusted_message(adjustment, wallet))
                return HttpResponseRedirect(_change_url(wallet))
        threshold = naira(settings.ADJUSTMENT_APPROVAL_THRESHOLD_KOBO)
        intro = (f"Wallet {wallet} of {wallet.user.email}: balance {naira(wallet.balance_kobo)}, available "
                 f"{naira(wallet.available_kobo)}. It posts at once unless it is above {threshold}, or takes this "
                 f"wallet's adjustments of today (Lagos time, by anyone, not rejected) above {threshold}: then another "
                 "staff member must approve it.")
        return action_page(request, self, verb="Credit or debit", form=form, target=wallet, intro=intro)

    def freeze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._freeze(request, pk, freeze=True)

    def unfreeze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._freeze(request, pk, freeze=False)

    def _freeze(self, request: HttpRequest, pk: int, *, freeze: bool) -> HttpResponse:
        require_perm(request, FREEZE_PERM)
        wallet = self._wallet(pk)
        service, verb = (wallet_freeze, "Freeze") if freeze else (wallet_unfreeze, "Unfreeze")

        def call(data: dict[str, Any]) -> str:
            changed = service(account_id=wallet.pk, reason=data["reason"], actor=Actor.from_request(request))
            return f"{verb}: {wallet} {'done' if changed else 'was already so (nothing changed)'}."

        intro = ("A frozen wallet refuses new purchases, transfers out and staff debits; credits and the "
                 "settling of purchases already under way still post.") if freeze else ""
        return object_action(request, self, target=wallet, verb=verb, form_class=ReasonForm, call=call,
                             done_url=_change_url(wallet), intro=intro)

    def statement_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        wallet = self._wallet(pk)
        form = StatementForm(request.GET)  # empty: this month so far
        lines, opening, closing, truncated, date_from, date_to = [], None, None, False, None, None
        if form.is_valid():
            date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
            entries = selectors.statement_entries(account_id=wallet.pk, date_from=date_from, date_to=date_to)
            lines = list(entries[: STATEMENT_MAX_LINES + 1])
            truncated = len(lines) > STATEMENT_MAX_LINES
            lines = lines[:STATEMENT_MAX_LINES]
            opening, closing = selectors.statement_balances(account_id=wallet.pk, date_from=date_from, date_to=date_to)
        context = {
            **self.admin_site.each_context(request), "title": f"Statement of {wallet}", "opts": self.opts,
            "wallet": wallet, "form": form, "lines": lines, "opening": opening, "closing": closing,
            "date_from": date_from, "date_to": date_to, "truncated": truncated, "max_lines": STATEMENT_MAX_LINES,
        }
        return TemplateResponse(request, "admin/wallets/ledgeraccount/statement.html", context)


def _adjust(request: HttpRequest, wallet: LedgerAccount, form: AdjustmentForm) -> Adjustment | None:
    """The service's adjustment (made now or found under the form's token), or None with
    the refusal on the form; nothing is done on a refusal."""
    data = form.cleaned_data
    try:
        return adjustment_request(
            staff=Actor.from_request(request), account_id=wallet.pk, direction=data["direction"],
            amount_kobo=data["amount"], reason=data["reason"], bank_reference=data["bank_reference"] or None,
            request_key=adjustment_request_key(source="form", key=data["request_token"]),
            confirm_duplicate=data.get("confirm_duplicate", False),
        )
    except DuplicateAdjustment as error:
        form.offer_duplicate_confirmation(str(error.detail))
    except IdempotencyConflict as error:
        form.add_error(None, f"This form was already used for adjustment {error.errors['adjustment_id']}; "
                             "open Credit / debit again for another adjustment.")
    except ApiError as error:
        form.add_error(None, str(error.detail))
    return None


def _adjusted_message(adjustment: Adjustment, wallet: LedgerAccount) -> tuple[str, int]:
    what = f"{adjustment.direction.capitalize()} of {naira(adjustment.amount_kobo)}"
    if adjustment.replayed:
        return (f"This form was already submitted: {what} is adjustment {adjustment.pk} ({adjustment.status}). "
                "Nothing new was done.", messages.WARNING)
    if adjustment.status == Adjustment.Status.POSTED:
        return f"{what} posted to {wallet}.", messages.SUCCESS
    return (f"{what} is waiting for a second staff member's approval (adjustment {adjustment.pk}).",
            messages.SUCCESS)


def _change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join("", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows))
    return format_html("<table><tr>{}</tr>{}</table>", head, body)


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "kind", "reference", "memo", "actor_label", "created_at")
    list_filter = ("kind",)
    search_fields = ("=idempotency_key", "=reference")
    search_help_text = "Exact journal key (e.g. refund:<purchase ref>) or reference."
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "journal", "account", "amount_kobo", "balance_after_kobo", "created_at")
    search_fields = ("=journal__idempotency_key", "=journal__reference", "=account__number")
    list_select_related = ("journal", "account")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("reference", "account", "amount_kobo", "captured_kobo", "status", "expires_at", "created_at")
    list_filter = ("status",)
    search_fields = ("=reference", "=account__number")
    list_select_related = ("account",)


class PendingFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Adjustment.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "direction", "amount_naira", "status", "bank_reference", "requested_by",
                    "decided_by", "created_at")
    list_filter = (PendingFilter, "direction")
    search_fields = ("=account__number", "=bank_reference", "reason")
    list_select_related = ("account", "requested_by", "decided_by")
    ordering = ("-id",)
    actions = ("approve_adjustments", "reject_adjustments")
    change_form_template = "admin/wallets/adjustment/change_form.html"

    @admin.display(description="amount")
    def amount_naira(self, adjustment: Adjustment) -> str:
        return naira(adjustment.amount_kobo)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE_PERM)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", wrap(self.approve_view), name="wallets_adjustment_approve"),
            path("<int:pk>/reject/", wrap(self.reject_view), name="wallets_adjustment_reject"),
            *super().get_urls(),
        ]

    def _adjustment(self, pk: int) -> Adjustment:
        adjustment = Adjustment.objects.select_related("account", "requested_by").filter(pk=pk).first()
        if adjustment is None:
            raise Http404("No such adjustment.")
        return adjustment

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, APPROVE_PERM)
        adjustment = self._adjustment(pk)

        def call(_data: dict[str, Any]) -> str:
            done = adjustment_approve(staff=Actor.from_request(request), adjustment_id=adjustment.pk)
            return f"Adjustment {done.pk} approved and posted ({done.direction} {naira(done.amount_kobo)})."

        count, total = selectors.adjustment_day_total(account_id=adjustment.account_id, exclude_id=adjustment.pk)
        intro = (f"{adjustment.direction.capitalize()} {naira(adjustment.amount_kobo)} on wallet {adjustment.account}, "
                 f"requested by {adjustment.requested_by.email}: “{adjustment.reason}”. Besides it, this wallet has "
                 f"{count} adjustment(s) today (Lagos time, not rejected) for {naira(total)}. Approving posts it now; "
                 "the requester cannot approve their own.")
        return object_action(request, self, target=adjustment, verb="Approve", form_class=forms.Form, call=call,
                             done_url=_change_url(adjustment), intro=intro)

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        require_perm(request, APPROVE_PERM)
        adjustment = self._adjustment(pk)

        def call(data: dict[str, Any]) -> str:
            adjustment_reject(staff=Actor.from_request(request), adjustment_id=adjustment.pk, reason=data["reason"])
            return f"Adjustment {adjustment.pk} rejected; nothing posted."

        return object_action(request, self, target=adjustment, verb="Reject", form_class=ReasonForm, call=call,
                             done_url=_change_url(adjustment))

    @admin.action(permissions=["approve"], description="Approve the selected pending adjustments (posts them)")
    def approve_adjustments(self, request: HttpRequest, queryset: QuerySet[Adjustment]) -> HttpResponse | None:
        staff = Actor.from_request(request)
        return bulk_action(request, self, queryset, action="approve_adjustments", verb="Approve", form_class=forms.Form,
                           call=lambda adjustment, _data: adjustment_approve(staff=staff, adjustment_id=adjustment.pk))

    @admin.action(permissions=["approve"], description="Reject the selected pending adjustments (asks for a reason)")
    def reject_adjustments(self, request: HttpRequest, queryset: QuerySet[Adjustment]) -> HttpResponse | None:
        staff = Actor.from_request(request)
        return bulk_action(
            request, self, queryset, action="reject_adjustments", verb="Reject",
            call=lambda adjustment, data: adjustment_reject(staff=staff, adjustment_id=adjustment.pk, reason=data["reason"]),
        )


@admin.register(LedgerCheck)
class LedgerCheckAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "ok", "finding_count", "finished_at")
