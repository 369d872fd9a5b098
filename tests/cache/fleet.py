"""Several daemons' caches on one real Redis, in one process (each with its own listener)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from tests.cache.builders import config, gateway, redis_settings

from mcp_discoveryd.cache import Cache, open_cache

GATEWAY = gateway("gw-1", ("server-a", "server-b"))


@asynccontextmanager
async def caches(url: str, count: int, **options: Any) -> AsyncIterator[list[Cache]]:
    """``count`` caches on the Redis at ``url``, each subscribed before the block starts."""
    async with AsyncExitStack() as stack:
        cfg = config(redis_settings(url), (GATEWAY,))
        options.setdefault("listen", True)
        yield [await stack.enter_async_context(open_cache(cfg, **options)) for _ in range(count)]


async def eventually(check: Callable[[], bool], within: float) -> None:
    """Return once ``check()`` holds; TimeoutError after ``within`` seconds."""
    with anyio.fail_after(within):
        while not check():  # noqa: ASYNC110  # memory has no change event to wait on
            await anyio.sleep(0.01)
