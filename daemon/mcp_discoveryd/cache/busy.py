"""What a write or a lease does when Redis is busy (its pool stayed exhausted): ask again,
within a bound.

A busy pool is load, not an outage: the store stays in use, nothing is granted or kept
locally on its account. Reads answer from memory instead (``reads.py``); writes and
lease requests, which must reach Redis to mean anything, wait and ask again here,
with a pause that doubles (``BUSY_PAUSE`` up to ``BUSY_PAUSE_MAX``) until
``[cache] busy_wait`` seconds have passed. Then the last ``CacheBusyError`` is raised,
its reason naming the pool: the caller turns it into data (an actor backs off, the
control socket answers 503). Asking forever held actors, clears and accepts for as
long as a subscription-starved pool lasted, with nothing in status to say why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import anyio

from ..errors import CacheBusyError
from .gate import Gate

logger = logging.getLogger(__name__)

BUSY_PAUSE = 0.05  # seconds before the first ask again; each busy answer already waited
BUSY_PAUSE_MAX = 1.0  # the pause stops doubling here
BUSY_WAIT = 10.0  # seconds, the default of [cache] busy_wait

T = TypeVar("T")


def pauses(
    limit: float, *, first: float = BUSY_PAUSE, most: float = BUSY_PAUSE_MAX
) -> Iterator[float]:
    """The pauses between asks: doubling from ``first`` up to ``most``, endless."""
    pause = first
    while True:
        yield min(pause, most, max(limit, 0.0))
        pause *= 2


async def patiently(
    op: Callable[[], Awaitable[T]],
    *,
    limit: float = BUSY_WAIT,
    pool: Gate | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """``op()``, asked again while it raises ``CacheBusyError`` for up to ``limit`` seconds;
    then that error, saying how long the pool stayed busy. An outage raises at once."""
    started = clock()
    for attempts, pause in enumerate(pauses(limit), start=1):
        try:
            return await op()
        except CacheBusyError as exc:
            spent = clock() - started
            if spent + pause > limit:
                if pool is not None:
                    pool.note_gave_up()
                raise _gave_up(exc, attempts, spent, pool) from None
            logger.debug("cache: %s busy, asking again: %s", exc.backend, exc.reason)
        await sleep(pause)
    raise AssertionError("unreachable: pauses() never ends")  # pragma: no cover


def _gave_up(exc: CacheBusyError, attempts: int, spent: float, pool: Gate | None) -> CacheBusyError:
    size = f" of {pool.size} connection(s)" if pool is not None else ""
    reason = (
        f"the connection pool{size} stayed busy through {attempts} attempt(s) "
        f"over {spent:.1f}s ([cache] busy_wait); try again later ({exc.reason})"
    )
    return CacheBusyError(exc.backend, reason)
