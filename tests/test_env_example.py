"""Every variable the configuration reads is listed in .env.example (with its comment)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Read by the files that configure the processes; <NAME>_* variables built from a gateway's or
# provider's name are documented as patterns in .env.example and not matched here.
SOURCES = ["config/settings.py", "config/settings_test.py", "config/observability.py", "docker/entrypoint.sh",
           "scripts/run"]
NOT_SETTINGS = {"DRY_RUN"}  # the entrypoint's test hook: print the commands instead of running them
_READS = [
    re.compile(r'env\.(?:str|bool|int|float|list|db|email_url|url|json)\(\s*"([A-Z][A-Z0-9_]+)"'),
    re.compile(r'os\.environ(?:\.get|\.setdefault)?[(\[]\s*"([A-Z][A-Z0-9_]+)"'),
    re.compile(r"\$\{([A-Z][A-Z0-9_]+)"),
]


def variables_read() -> set[str]:
    names: set[str] = set()
    for source in SOURCES:
        text = (ROOT / source).read_text()
        for pattern in _READS:
            names.update(pattern.findall(text))
    return names - NOT_SETTINGS - {"DJANGO_SETTINGS_MODULE", "PATH", "HOME"}


def test_every_variable_read_is_in_env_example_with_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    # "# NAME=value" lists a variable that must stay unset unless used (set even empty, it changes
    # behaviour: PROMETHEUS_MULTIPROC_DIR); it is documented all the same.
    listed = {
        found.group(1): i for i, line in enumerate(lines) if (found := re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=", line))
    }
    read = variables_read()
    assert {"SECRET_KEY", "TESTING", "TEST_DATABASE_NAME", "PORT"} <= read  # the scan works
    assert sorted(read - set(listed)) == []
    assert [name for name, i in listed.items() if not _commented(lines, i)] == []


def _commented(lines: list[str], index: int) -> bool:
    """A comment line above the variable in its block (a group of variables may share one)."""
    for line in reversed(lines[:index]):
        if not line.strip():
            return False
        if line.startswith("#"):
            return True
    return False
