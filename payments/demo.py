"""`make run`: how to fund the demo wallet through the sandbox gateway (nothing to seed)."""

from __future__ import annotations

from typing import Any

from payments.gateways.registry import is_enabled


def seed(stdout: Any) -> None:
    if is_enabled("sandbox"):
        stdout.write(
            "sandbox gateway: POST /api/v1/wallet/fund {\"amount\": 500000, \"gateway\": \"sandbox\"} as the demo "
            "customer (Swagger UI at /api/docs/), open authorization_url and press Pay"
        )
