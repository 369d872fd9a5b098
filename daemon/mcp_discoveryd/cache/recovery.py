"""The recovery actor: while the shared store is unreachable, retry with backoff until it is back.

Started with ``TaskGroup.start`` by whoever owns the cache (``open_cache``), so
the owner knows it is watching before it uses the cache. It sleeps until the
cache sees an outage, then retries with exponential backoff and jitter; each
retry is ``Cache.resync`` (replay clears, write back), which makes the cache
healthy again when it succeeds.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus

from ..errors import CacheBusyError, CacheUnavailableError
from .health import DEFAULT_BACKOFF, Backoff
from .tiered import Cache

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


async def run_recovery(
    cache: Cache,
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    rng: random.Random | None = None,
    sleep: Sleep = anyio.sleep,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Watch ``cache`` until cancelled; ``sleep`` waits between retries (a seam for tests)."""
    rng = rng or random.Random()
    task_status.started()
    if cache.remote is None:
        return
    while True:
        await cache.wait_down()
        attempt = 0
        while not cache.health.ok:
            delay = backoff.delay(attempt, rng)
            cache.note_retry(attempt, delay)
            await sleep(delay)
            try:
                await cache.resync()
            except (CacheUnavailableError, CacheBusyError) as exc:
                attempt += 1
                cache.note_still_down(exc.reason)
                logger.debug("cache: %s still unavailable: %s", cache.backend, exc.reason)
            except Exception:  # a bug here must not end reconnection for good
                attempt += 1
                logger.exception("cache: write-back to %s failed", cache.backend)
