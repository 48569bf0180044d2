"""CSV for statements and transaction exports (`?format=csv` or `Accept: text/csv`).

Registered per view (renderer_classes), next to JSON. Errors still leave as the JSON
envelope (`JSONErrorsMixin`). Cells that a spreadsheet would run as a formula are prefixed
with a quote (CSV injection: a narration like "=HYPERLINK(...)" is the customer's text).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


class CSVRenderer(BaseRenderer):
    """Renders a list of flat dicts (or `{"results": [...]}`); the header is the view's
    `csv_columns`, else the first row's keys."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        rows = data.get("results", []) if isinstance(data, dict) else list(data or [])
        view = (renderer_context or {}).get("view")
        columns = list(getattr(view, "csv_columns", None) or (rows[0].keys() if rows else []))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
        return buffer.getvalue().encode(self.charset)


class JSONErrorsMixin:
    """An error on a CSV-capable view is still the JSON envelope."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if response.status_code >= 400 and isinstance(getattr(response, "accepted_renderer", None), CSVRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
            response.renderer_context = self.get_renderer_context()  # type: ignore[attr-defined]
        return response
