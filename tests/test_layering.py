"""The layers of DESIGN §1, read from the source: an app imports only from the layers below it.

    layer 4   backoffice             the staff console, over everything
    layer 3   vtu       payments     the businesses; they never call each other
    layer 2   wallets   pricing      the ledger; quotes
    layer 1   accounts               identity
    layer 0   audit                  every layer records here

Every import statement counts, at module level or inside a function. Tests are not
application code and are left out (a test may build a wallet to exercise accounts).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"audit": 0, "accounts": 1, "wallets": 2, "pricing": 2, "vtu": 3, "payments": 3, "backoffice": 4}


def imported_apps(path: Path) -> set[str]:
    apps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            apps.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            apps.add(node.module.split(".")[0])
    return apps & set(LAYERS)


def application_files(app: str) -> list[Path]:
    return [path for path in (ROOT / app).rglob("*.py") if "tests" not in path.relative_to(ROOT / app).parts]


def forbidden(app: str, other: str) -> bool:
    """May `app` not import `other`? Only layers strictly below are allowed."""
    return other != app and LAYERS[other] >= LAYERS[app]


@pytest.mark.parametrize("app", sorted(LAYERS))
def test_app_imports_only_from_the_layers_below_it(app):
    offenders = {
        str(path.relative_to(ROOT)): sorted(other for other in imported_apps(path) if forbidden(app, other))
        for path in application_files(app)
    }
    assert {path: others for path, others in offenders.items() if others} == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "services.py"
    module.write_text("def f():\n    from wallets.services import wallet_get\n    import vtu.models\n")
    assert imported_apps(module) == {"wallets", "vtu"}
    assert forbidden("accounts", "wallets") and forbidden("vtu", "payments") and forbidden("wallets", "pricing")
    assert not forbidden("vtu", "wallets") and not forbidden("accounts", "audit")
