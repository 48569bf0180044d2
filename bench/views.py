"""The bare reference endpoint every benchmark compares against.

Same stack as the real API: the project's middleware, DRF's authentication (JWT or API key),
permissions and throttles, JSON parsing. The work is the least a money write can be: one
guarded UPDATE ... RETURNING and one INSERT with a unique key, in one transaction, on tables
the harness creates in the benchmark database only (`bench_account`, `bench_entry`). A real
endpoint's ratio to this one is what its own code costs on top of "HTTP + auth + one write".
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

BENCH_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS bench_account (
    id bigint PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE IF NOT EXISTS bench_entry (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    amount bigint NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


class BareWriteApi(APIView):
    """Debit the caller's bench_account row by `amount` and record one bench_entry."""

    api_key_scope = "transfer"  # the same scope check as the transfer endpoint
    schema = None  # not part of the public API

    def post(self, request: Request) -> Response:
        amount = request.data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return Response({"detail": "bad amount", "error_code": "INVALID_AMOUNT", "errors": {}}, status=400)
        key = request.headers.get("Idempotency-Key") or ""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE bench_account SET balance = balance - %s WHERE id = %s AND balance >= %s RETURNING balance",
                    [amount, request.user.pk, amount],
                )
                row = cursor.fetchone()
                if row is None:
                    return Response({"detail": "insufficient", "error_code": "INSUFFICIENT_FUNDS", "errors": {}}, status=402)
                cursor.execute(
                    "INSERT INTO bench_entry (account_id, amount, idempotency_key) VALUES (%s, %s, %s)",
                    [request.user.pk, -amount, f"{request.user.pk}:{key}"],
                )
        except IntegrityError:
            return Response({"detail": "duplicate", "error_code": "IDEMPOTENCY_CONFLICT", "errors": {}}, status=409)
        return Response({"balance": row[0]}, status=201)
