from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit import request_log


@pytest.fixture(autouse=True)
def _empty_request_log_buffer() -> Iterator[None]:
    request_log._buffer.take()
    yield
    request_log._buffer.take()
