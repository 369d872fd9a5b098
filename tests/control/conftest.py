"""Fixtures of the control-socket tests (and the cache tests' real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cache.conftest import redis_server
from tests.control.support import short_dir

__all__ = ["redis_server", "sock_dir"]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for the socket (and the config), removed afterwards."""
    with short_dir() as path:
        yield path
