"""Our side of the Redis connection pool: at most N round trips at once, the rest queued here.

Thousands of actors preloading or refreshing at once used to queue in redis-py's pool,
whose wait ends in an error after its timeout; that error read as an outage (degraded
mode, leases granted locally, every daemon discovering every key). Waiting here has no
timeout: a wait for a connection is load, and the caller's own deadline bounds it.

One rule keeps a hung Redis from holding the queue: an operation queued before a
failure and admitted after it fails at once with that failure, unless a round trip
succeeded in between (otherwise each queued operation would spend its own timeout).

The gate counts what an operator needs to see load (status and metrics read them):
the queue now and its peak, the round trips that found every slot taken, those whose
pool wait still ended busy, and the operations that stopped asking (``busy.py``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from ..errors import CacheBusyError, CacheUnavailableError


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """The gate's figures at one moment (counts only grow, ``waiting`` aside)."""

    size: int  # round trips admitted at once
    in_use: int  # slots held now
    waiting: int  # operations queued for a slot now
    waiting_peak: int  # the longest queue since start
    queued: int  # round trips that found every slot taken (waited in the queue)
    exhausted: int  # round trips whose pool wait ended busy (CacheBusyError)
    gave_up: int  # operations that stopped asking again after the busy bound


class Gate:
    """Admits at most ``size`` round trips at once, first come first served."""

    def __init__(self, size: int, kind: str) -> None:
        self.size = size
        self._kind = kind
        self._slots = anyio.Semaphore(size)  # not a CapacityLimiter: no per-task token rule
        self._failure: tuple[float, str] | None = None  # latest failure with no success after
        self._peak = 0
        self._queued = 0
        self._exhausted = 0
        self._gave_up = 0

    @property
    def waiting(self) -> int:
        """Operations queued for a slot now."""
        return self._slots.statistics().tasks_waiting

    def figures(self) -> PoolFigures:
        """The queue and the busy counts now (plain ints: any thread may read them)."""
        return PoolFigures(
            size=self.size,
            in_use=self.size - self._slots.value,
            waiting=self.waiting,
            waiting_peak=self._peak,
            queued=self._queued,
            exhausted=self._exhausted,
            gave_up=self._gave_up,
        )

    def note_gave_up(self) -> None:
        """An operation stopped asking again: the pool stayed busy past its bound."""
        self._gave_up += 1

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Hold a slot for the block; ``CacheUnavailableError`` at once if Redis failed
        while this operation was queued (and nothing succeeded since)."""
        queued = time.monotonic()
        if self._slots.value == 0:
            self._queued += 1
            self._peak = max(self._peak, self.waiting + 1)  # counting ourselves, about to wait
        async with self._slots:
            failure = self._failure
            if failure is not None and failure[0] >= queued:
                raise CacheUnavailableError(self._kind, failure[1])
            try:
                yield
            except CacheUnavailableError as exc:
                self._failure = (time.monotonic(), exc.reason)
                raise
            except CacheBusyError:
                self._exhausted += 1
                raise
            self._failure = None
