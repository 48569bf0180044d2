"""What the platform imports at run time is installed by requirements.txt (what `make run` and the
image install), not only by requirements-dev.txt (what the test suite runs with): a module
imported by application code but pinned only for tests would pass every test and crash
`make run` and production at start-up."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPLICATION = ["accounts", "audit", "backoffice", "config", "payments", "pricing", "vtu", "wallets"]
PROJECT = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()} | {"manage", "conftest"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[=<>~!;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pinned(path: Path) -> dict[str, set[str]]:
    """{distribution: the extras asked for} of each pinned line."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {_name(line): _extras(line) for line in lines if line and not line.startswith("-")}


def _extras(requirement: str) -> set[str]:
    found = re.search(r"\[([^\]]+)\]", requirement.split(";")[0])
    return {extra.strip() for extra in found.group(1).split(",")} if found else set()


def _wanted(requirement: str, extras: set[str]) -> bool:
    marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
    return marker is None or marker.group(1) in extras


def _with_dependencies(pinned: dict[str, set[str]]) -> set[str]:
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(name, frozenset(extras)) for name, extras in pinned.items()]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        try:
            requires = metadata.requires(item[0]) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [(_name(req), frozenset(_extras(req))) for req in requires if _wanted(req, item[1])]
    return {name for name, _ in seen}


def _runtime_imports() -> set[str]:
    modules: set[str] = set()
    for app in APPLICATION:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - PROJECT - {"__future__"}


def test_every_module_the_application_imports_is_installed_by_requirements_txt():
    installed = _with_dependencies(_pinned(ROOT / "requirements.txt"))
    owners = metadata.packages_distributions()
    missing = {
        module: owners.get(module, ["?"])
        for module in _runtime_imports()
        if not {_name(dist) for dist in owners.get(module, [])} & installed
    }
    assert missing == {}


def test_the_check_sees_a_test_only_package():
    assert "responses" in {_name(dist) for dist in metadata.packages_distributions()["responses"]}
    assert "responses" not in _with_dependencies(_pinned(ROOT / "requirements.txt"))
