"""pricing is layer 2: it is given the audience and the cost and never imports vtu (DESIGN §1)."""

from __future__ import annotations

import ast
from pathlib import Path

PRICING = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pricing_never_imports_the_layers_above_it():
    offenders = {
        str(path.relative_to(PRICING)): sorted(m for m in imported_modules(path) if m.split(".")[0] in ("vtu", "payments", "backoffice"))
        for path in PRICING.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
