from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit import request_log

# The purchase fixtures (scripted providers alpha and beta, priced plans, a funded buyer, a
# movable clock) for the console's purchase and dispute tests; the catalogue cache is off.
from vtu.tests.conftest import _no_catalogue_cache, buyer, catalogue, vtu_clock, world  # noqa: F401


@pytest.fixture(autouse=True)
def _empty_request_log_buffer() -> Iterator[None]:
    request_log._buffer.take()
    yield
    request_log._buffer.take()
