"""The sandbox gateway's checkout page (DEBUG only): "Pay" or "Fail".

Pressing a button does what a real gateway's servers do: it records the outcome in the
gateway's own state (SandboxCharge, which its verify API reads) and POSTs the platform a
signed webhook. The webhook goes in-process through `webhook_receive`, the same function the
HTTP webhook view calls, so it passes the same signature check, dedupe and task as a real one.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from payments.gateways.registry import get_gateway, is_enabled
from payments.gateways.sandbox import SandboxGateway
from payments.models import Deposit, SandboxCharge
from payments.webhooks import webhook_receive


def _charge_or_404(reference: str) -> SandboxCharge:
    if not is_enabled("sandbox"):  # off, or DEBUG off: the page does not exist
        raise Http404
    charge = SandboxCharge.objects.filter(reference=reference[:100]).first()
    if charge is None:
        raise Http404
    return charge


@require_http_methods(["GET", "POST"])
def sandbox_checkout_page(request: HttpRequest, reference: str) -> HttpResponse:
    charge = _charge_or_404(reference)
    if request.method == "POST":
        succeeded = request.POST.get("action") == "pay"
        SandboxCharge.objects.filter(pk=charge.pk, status="pending").update(
            status="success" if succeeded else "failed", paid_at=timezone.now() if succeeded else None
        )
        charge.refresh_from_db()
        gateway = get_gateway("sandbox")
        assert isinstance(gateway, SandboxGateway)
        body = gateway.event_body(reference=charge.reference, succeeded=charge.status == "success")
        webhook_receive(
            gateway="sandbox", body=body, headers=gateway.signed_headers(body), query={},
            remote_ip=request.META.get("REMOTE_ADDR"),
        )
        return redirect("sandbox-checkout", reference=charge.reference)
    deposit = Deposit.objects.filter(reference=charge.reference, gateway="sandbox").first()
    credited = deposit.credited_kobo if deposit and deposit.credited_kobo is not None else 0
    return render(request, "payments/sandbox_checkout.html", {
        "charge": charge, "deposit": deposit, "naira": _naira(charge.amount_kobo),
        "credited": f"{charge.currency} {_naira(credited)}",
    })


def _naira(kobo: int) -> str:
    return f"{kobo // 100:,}.{kobo % 100:02d}"
