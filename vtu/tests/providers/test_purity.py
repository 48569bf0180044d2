"""Adapters are pure: no database, no models, no Celery (they are called outside any
transaction and report through on_call); only accounts.phones and config plumbing below."""

from __future__ import annotations

import ast
from pathlib import Path

PROVIDERS = Path(__file__).resolve().parents[2] / "providers"
ALLOWED_PROJECT_IMPORTS = {"accounts.phones", "config.errors", "config.http", "config.logs"}


def project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        found.update(m for m in modules if m.split(".")[0] in ("accounts", "config", "vtu", "wallets", "pricing", "payments", "audit", "django"))
    return found


def test_adapters_import_no_database_code():
    for path in PROVIDERS.glob("*.py"):
        imports = project_imports(path)
        outside = {m for m in imports if not m.startswith("vtu.providers") and m not in ALLOWED_PROJECT_IMPORTS}
        assert outside <= {"django.conf"}, f"{path.name} imports {sorted(outside)}"
