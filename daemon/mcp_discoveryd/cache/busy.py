"""What a write or a lease does when Redis is busy (its pool stayed exhausted): ask again.

A busy pool is load, not an outage: the store stays in use, nothing is granted or kept
locally on its account. Reads answer from memory instead (``reads.py``); writes and
lease requests, which must reach Redis to mean anything, wait and ask again here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ..errors import CacheBusyError

logger = logging.getLogger(__name__)

BUSY_PAUSE = 0.05  # seconds between asks; each busy answer already waited the pool's timeout

T = TypeVar("T")


async def patiently(op: Callable[[], Awaitable[T]], *, pause: float = BUSY_PAUSE) -> T:
    """``op()``, asked again while it raises ``CacheBusyError``; an outage still raises."""
    while True:
        try:
            return await op()
        except CacheBusyError as exc:
            logger.debug("cache: %s busy, asking again: %s", exc.backend, exc.reason)
        await anyio.sleep(pause)
