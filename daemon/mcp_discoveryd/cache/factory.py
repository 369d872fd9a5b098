"""``open_cache``: the cache a config asks for, with its reconnect actor running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ..config.model import DaemonConfig
from .compat_enkrypt import EnkryptCompat, compat_enabled
from .health import DEFAULT_BACKOFF, Backoff
from .keys import KeySpace
from .memory import MemoryBackend
from .redis_backend import RedisBackend
from .stats import CacheStats
from .tiered import Cache

logger = logging.getLogger(__name__)


def redis_backend(config: DaemonConfig, stats: CacheStats, **client_options: Any) -> RedisBackend:
    """The Redis backend for a config (no connection is made yet)."""
    from .redis import RedisConnection  # redis-py costs ~90 ms to import: only when used

    settings = config.cache
    return RedisBackend(
        RedisConnection.from_settings(settings, stats=stats, **client_options),
        keys=KeySpace(settings.key_prefix, settings.key_secret),
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
    **client_options: Any,
) -> AsyncIterator[Cache]:
    """Memory, or Redis with memory in front, per ``config.cache``.

    Never raises because Redis is down: the cache starts degraded and keeps
    retrying in the background until the block exits. ``client_options`` go to
    redis-py (TLS files, a connection class for tests and benchmarks).

    The reconnect actor is a task owned by this block rather than a task group,
    so exceptions from the caller's block come out as themselves (not wrapped in
    an ExceptionGroup) and the block may be entered and left in different tasks
    (pytest fixtures do that).
    """
    settings = config.cache
    stats = stats or CacheStats()
    memory = MemoryBackend(settings.max_entries, settings.max_bytes)
    remote = redis_backend(config, stats, **client_options) if settings.backend == "redis" else None
    cache = Cache(config, memory=memory, remote=remote, stats=stats, backoff=backoff)
    recovery = asyncio.get_running_loop().create_task(cache.run_recovery(), name="cache-recovery")
    try:
        await cache.connect()
        yield cache
    finally:
        recovery.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([recovery])  # joins it; its cancellation stays its own
            if not recovery.cancelled() and recovery.exception() is not None:
                logger.error("cache reconnect task ended", exc_info=recovery.exception())
            if remote is not None:
                await remote.aclose()
