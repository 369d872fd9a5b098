"""Fixtures of the CLI tests that talk to a daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.control.support import short_dir


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for the socket (and the config), removed afterwards."""
    with short_dir() as path:
        yield path
