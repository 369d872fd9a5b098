"""Our side of the Redis connection pool: at most N round trips at once, the rest queued here.

Thousands of actors preloading or refreshing at once used to queue in redis-py's pool,
whose wait ends in an error after its timeout; that error read as an outage (degraded
mode, leases granted locally, every daemon discovering every key). Waiting here has no
timeout: a wait for a connection is load, and the caller's own deadline bounds it.

One rule keeps a hung Redis from holding the queue: an operation queued before a
failure and admitted after it fails at once with that failure, unless a round trip
succeeded in between (otherwise each queued operation would spend its own timeout).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from ..errors import CacheUnavailableError


class Gate:
    """Admits at most ``size`` round trips at once, first come first served."""

    def __init__(self, size: int, kind: str) -> None:
        self.size = size
        self._kind = kind
        self._slots = anyio.Semaphore(size)  # not a CapacityLimiter: no per-task token rule
        self._failure: tuple[float, str] | None = None  # latest failure with no success after

    @property
    def waiting(self) -> int:
        """Operations queued for a slot now."""
        return self._slots.statistics().tasks_waiting

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold a slot for the block; ``CacheUnavailableError`` at once if Redis failed
        while this operation was queued (and nothing succeeded since)."""
        queued = time.monotonic()
        async with self._slots:
            failure = self._failure
            if failure is not None and failure[0] >= queued:
                raise CacheUnavailableError(self._kind, failure[1])
            try:
                yield
            except CacheUnavailableError as exc:
                self._failure = (time.monotonic(), exc.reason)
                raise
            self._failure = None
