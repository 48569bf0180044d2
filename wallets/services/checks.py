"""The invariant checker: finds, records, freezes and alerts; never corrects (DESIGN §2)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q

from audit.services import Actor, audit_record
from config.alerts import alert_raise, alert_resolve
from wallets import clock
from wallets.invariants import Finding, ledger_findings
from wallets.models import Entry, Hold, Journal, LedgerAccount, LedgerCheck
from wallets.selectors import holds_overdue
from wallets.services.accounts import wallet_freeze

CHECK_ACTOR = Actor.system("ledger check")
ALERT_KEY = "ledger_check"
HOLDS_OVERDUE_ALERT_KEY = "holds_overdue"


def _affected_wallets(findings: list[Finding]) -> list[int]:
    """Customer wallets a finding names, directly or through one of its journals."""
    account_ids = {pk for finding in findings for pk in finding.account_ids}
    journal_ids = {pk for finding in findings for pk in finding.journal_ids}
    if journal_ids:
        account_ids |= set(Entry.objects.filter(journal_id__in=journal_ids).values_list("account_id", flat=True))
    return sorted(
        LedgerAccount.objects.filter(pk__in=account_ids, kind=LedgerAccount.Kind.CUSTOMER).values_list("pk", flat=True)
    )


def _stats() -> dict[str, int]:
    accounts = LedgerAccount.objects.aggregate(
        wallets=Count("pk", filter=Q(kind="customer")), frozen=Count("pk", filter=Q(status="frozen"))
    )
    return {
        **accounts,
        "journals": Journal.objects.count(),
        "entries": Entry.objects.count(),
        "active_holds": Hold.objects.filter(status=Hold.Status.ACTIVE).count(),
        "holds_overdue": holds_overdue().count(),
    }


def _report_holds_overdue(count: int) -> None:
    """Active holds past their review deadline are not an invariant violation (no freeze, no
    finding) but money nobody has settled: one deduplicated warning alert while there are
    any, resolved when there are none."""
    if not count:
        alert_resolve(dedupe_key=HOLDS_OVERDUE_ALERT_KEY)
        return
    oldest = holds_overdue().first()
    alert_raise(
        kind="holds_overdue", dedupe_key=HOLDS_OVERDUE_ALERT_KEY, severity="warning",
        message=f"{count} active hold(s) past their review deadline; settle them (capture or release).",
        details={"count": count, "oldest_reference": oldest.reference if oldest else None,
                 "oldest_due": oldest.expires_at.isoformat() if oldest else None},
    )


def _act_on_findings(check: LedgerCheck, findings: list[Finding], *, freeze: bool) -> list[int]:
    """Freeze the wallets involved (when `freeze`), audit, raise the critical alert; returns
    the ids of the wallets this run froze."""
    codes = sorted({finding.code for finding in findings})
    frozen: list[int] = []
    for account_id in _affected_wallets(findings) if freeze else []:
        reason = f"Ledger check {check.pk}: {', '.join(codes)}"
        if wallet_freeze(account_id=account_id, reason=reason, actor=CHECK_ACTOR):
            frozen.append(account_id)
    audit_record(
        action="ledger.finding", actor=CHECK_ACTOR, target=check,
        changes={"codes": codes, "count": len(findings), "frozen_account_ids": frozen},
    )
    alert_raise(
        kind="ledger_check", dedupe_key=ALERT_KEY, severity="critical",
        message=f"Ledger check found {len(findings)} problem(s): {', '.join(codes)}",
        details={"check_id": check.pk, "first": findings[0].message, "frozen_wallets": len(frozen)},
    )
    return frozen


def ledger_check_run(*, freeze: bool | None = None) -> LedgerCheck:
    """Check every invariant (wallets.invariants), store the result as a LedgerCheck row (the
    latest one is what metrics and the dashboard read), and on findings: freeze every customer
    wallet involved (unless `freeze` is False / LEDGER_CHECK_FREEZE off), record a
    `ledger.finding` audit entry and raise one deduplicated critical alert. Active holds past
    their review deadline are counted (`stats["holds_overdue"]`) and kept open as one warning
    alert, never a finding. It never changes a balance, an entry or a hold: fixes are human.

    Locks: none while reading (each rule is one consistent statement); each freeze is one
    conditional UPDATE. Idempotent: a second run finds the same and freezes nothing new.
    """
    freeze = settings.LEDGER_CHECK_FREEZE if freeze is None else freeze
    check = LedgerCheck.objects.create(started_at=clock.now())
    findings = ledger_findings()
    frozen = _act_on_findings(check, findings, freeze=freeze) if findings else []
    stats = _stats()
    _report_holds_overdue(stats["holds_overdue"])
    LedgerCheck.objects.filter(pk=check.pk).update(
        finished_at=clock.now(), ok=not findings, findings=[finding.as_dict() for finding in findings],
        finding_count=len(findings), frozen_account_ids=frozen, stats=stats,
    )
    check.refresh_from_db()
    return check
