"""``open_cache``: the cache a config asks for, with its recovery actor running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio

from ..config.settings import DaemonConfig
from .compat_enkrypt import EnkryptCompat, compat_enabled
from .health import DEFAULT_BACKOFF, Backoff
from .keys import KeySpace
from .listener import run_listener
from .memory import MemoryBackend
from .recovery import Sleep, run_recovery
from .redis_backend import RedisBackend
from .stats import CacheStats
from .tiered import Cache


def redis_backend(config: DaemonConfig, stats: CacheStats, **client_options: Any) -> RedisBackend:
    """The Redis backend for a config (no connection is made yet)."""
    from .redis import RedisConnection  # redis-py costs ~90 ms to import: only when used

    settings = config.cache
    return RedisBackend(
        RedisConnection.from_settings(settings, stats=stats, **client_options),
        keys=KeySpace(
            settings.key_prefix, settings.key_secret.reveal() if settings.key_secret else None
        ),
        stats=stats,
        index_ttl=max(settings.tool_ttl, settings.config_ttl) + settings.stale_grace,
        compat=EnkryptCompat.from_config(config) if compat_enabled(config) else None,
    )


@asynccontextmanager
async def open_cache(
    config: DaemonConfig,
    *,
    stats: CacheStats | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Sleep = anyio.sleep,
    listen: bool = False,
    **client_options: Any,
) -> AsyncIterator[Cache]:
    """Memory, or Redis with memory in front, per ``config.cache``.

    Never raises because Redis is down: the cache starts degraded and the recovery
    actor (started with ``TaskGroup.start``, so it watches before the cache is used)
    retries until the block exits. ``listen``: with Redis, run the invalidation listener
    beside it, subscribed before the block starts (a daemon's supervisor may instead
    start ``run_listener`` itself; one-shot commands need neither). ``client_options`` go to redis-py (TLS files, a
    connection class for tests and benchmarks). An exception raised in the block comes
    out as itself, not wrapped in the task group's ExceptionGroup. The block must be
    left in the task that entered it (the task group's cancel scope requires it).
    """
    settings = config.cache
    stats = stats or CacheStats()
    memory = MemoryBackend(settings.max_entries, settings.max_bytes)
    remote = redis_backend(config, stats, **client_options) if settings.backend == "redis" else None
    cache = Cache(settings, memory=memory, remote=remote, stats=stats)
    raised: BaseException | None = None  # the caller's own exception, to come out unwrapped
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(partial(run_recovery, cache, backoff=backoff, sleep=sleep))
            if listen and remote is not None:
                await tg.start(partial(run_listener, cache))
            try:
                await cache.connect()
                yield cache
            except BaseException as exc:
                raised = exc
                raise
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if raised is None or group.exceptions != (raised,):
            raise
    finally:
        if remote is not None:
            with anyio.CancelScope(shield=True):
                await remote.aclose()
    if raised is not None:
        raise raised
