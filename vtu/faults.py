"""Fault points for crash tests (ledger reference §4.1): `hit("name")` is a no-op unless a
test arms the point.

Armed in-process with `arm(name, exc)` (raises, e.g. SimulatedCrash), or for a subprocess
worker with the environment variable VTU_FAULT_EXIT=<name>, which kills the process on the
spot with os._exit(1) (no cleanup, no commit: the closest thing to SIGKILL). Only honoured
when settings.TESTING or DEBUG is on, so production never dies on a stray variable.
"""

from __future__ import annotations

import os

from django.conf import settings

_armed: dict[str, BaseException] = {}


class SimulatedCrash(RuntimeError):
    """Raised at an armed fault point: the worker 'died' here."""


def arm(name: str, exc: BaseException | None = None) -> None:
    _armed[name] = exc or SimulatedCrash(name)


def disarm(name: str | None = None) -> None:
    if name is None:
        _armed.clear()
    else:
        _armed.pop(name, None)


def hit(name: str) -> None:
    if not _armed and "VTU_FAULT_EXIT" not in os.environ:
        return
    if not (settings.TESTING or settings.DEBUG):
        return
    if os.environ.get("VTU_FAULT_EXIT") == name:
        os._exit(1)
    exc = _armed.get(name)
    if exc is not None:
        raise exc
