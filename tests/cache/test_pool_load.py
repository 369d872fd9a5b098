"""A pool far smaller than the work (a fleet's preload): load, never an outage.

Real redis-server; each round trip stretched by ``LaggingConnection`` so that a pool of
two (one connection is the listener's) holds hundreds of operations for longer than the
pool's own wait: before the gate, those waits ended in "No connection available", the
cache went degraded, leases were granted locally and every daemon discovered every key.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest
from tests.cache.builders import config, entry, gateway, redis_settings
from tests.cache.lagging import LAG, LaggingConnection
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.actors.coordination import take_turn
from mcp_discoveryd.cache import Cache, open_cache
from mcp_discoveryd.cache.lease import RedisCoordinator, RedisLease, coordinator_for
from mcp_discoveryd.cache.redis import COMMAND_TIMEOUT
from mcp_discoveryd.discovery.selection import Selection
from mcp_discoveryd.errors import CacheBusyError
from mcp_discoveryd.models import CacheType

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SERVERS = tuple(f"s{i}" for i in range(80))  # 80 leases asked at once: 3.2 s of round trips
GATEWAY = gateway("gw-1", SERVERS)


def _tiny(url: str) -> str:
    return f"{url}?max_connections=2"


@asynccontextmanager
async def _caches(url: str, count: int) -> AsyncIterator[list[Cache]]:
    """``count`` daemons' caches with pools of two, each with its listener."""
    async with AsyncExitStack() as stack:
        cfg = config(redis_settings(_tiny(url)), (GATEWAY,))
        yield [
            await stack.enter_async_context(
                open_cache(cfg, listen=True, connection_class=LaggingConnection)
            )
            for _ in range(count)
        ]


async def test_hundreds_of_operations_through_a_pool_of_two_keep_the_cache_healthy(
    redis_server: RedisServer,
) -> None:
    operations = int(2 * COMMAND_TIMEOUT / LAG)  # twice what the pool's wait lets through
    async with _caches(redis_server.url, 1) as (cache,):
        since = cache.health.since  # a new Health on any outage (and on its recovery)
        coordinator = coordinator_for(cache)
        leases: list[object] = []
        asked: set[str] = set()

        async def lease(name: str) -> None:
            asked.add(name)
            leases.append(await coordinator.try_acquire("gw-1", name, 30.0))

        async with anyio.create_task_group() as tg:
            for i in range(operations):
                name = SERVERS[i % len(SERVERS)]
                if i % 3 == 0:
                    tg.start_soon(cache.get, CacheType.TOOLS, "gw-1", name)
                elif i % 3 == 1:
                    tg.start_soon(cache.put_many, [entry("gw-1", name)])
                else:
                    tg.start_soon(lease, name)
        assert cache.health.ok, cache.health.reason
        assert cache.health.since == since  # never went degraded, not even for a while
        assert cache.pending_writes() == ()
        # every lease decided by Redis: one per key granted, the others refused
        assert all(isinstance(got, RedisLease) or got is None for got in leases)
        assert sum(isinstance(got, RedisLease) for got in leases) == len(asked)


async def test_daemons_with_tiny_pools_make_one_discovery_per_key_between_them(
    redis_server: RedisServer,
) -> None:
    discoveries: Counter[tuple[int, str]] = Counter()
    async with _caches(redis_server.url, 3) as caches:
        since = [cache.health.since for cache in caches]

        async def refresh(index: int, cache: Cache, name: str) -> None:
            sel = Selection(GATEWAY, GATEWAY.servers[SERVERS.index(name)])
            coordinator = coordinator_for(cache, poll_interval=0.2)
            assert isinstance(coordinator, RedisCoordinator)
            lease = await take_turn(
                coordinator,
                cache,
                sel,
                lease_ttl=60.0,
                wait_limit=60.0,
                before=None,
                on_wait=lambda: None,
            )
            if lease is None:
                return
            assert not lease.degraded
            discoveries[(index, name)] += 1
            await anyio.sleep(0.05)  # the upstream
            await cache.put_many([entry("gw-1", name, fetched_at=time.time())])
            await lease.release()

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for index, cache in enumerate(caches):
                    for name in SERVERS:
                        tg.start_soon(refresh, index, cache, name)
        assert [cache.health.since for cache in caches] == since  # none ever degraded
    per_key = Counter(name for _, name in discoveries.elements())
    assert per_key == Counter(dict.fromkeys(SERVERS, 1))


async def test_a_pool_held_by_subscriptions_is_busy_and_the_cache_stays_healthy(
    redis_server: RedisServer,
) -> None:
    cfg = config(redis_settings(_tiny(redis_server.url)), (GATEWAY,))
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "s0")])
        since = cache.health.since
        remote = cache.remote
        assert remote is not None
        connection = remote.connection  # type: ignore[attr-defined]
        async with (
            connection.subscribe("a") as _,
            connection.subscribe("b") as _,  # both pooled connections now held
        ):
            with pytest.raises(CacheBusyError):
                await connection.call("get", "GET", "x")
            found = await cache.get(CacheType.TOOLS, "gw-1", "s0")  # memory answers
            await cache.status(GATEWAY)  # memory's view
        assert found is not None
        assert cache.health.since == since  # never degraded
        await cache.put_many([entry("gw-1", "s1")])  # the pool is free again: written
        assert cache.pending_writes() == ()


async def test_a_hung_redis_fails_the_queued_work_at_once_instead_of_one_timeout_each(
    redis_server: RedisServer,
) -> None:
    cfg = config(redis_settings(_tiny(redis_server.url)), (GATEWAY,))
    pid = redis_server.pid
    assert pid is not None
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "s0")])  # the pool's connection is open
        os.kill(pid, signal.SIGSTOP)  # up, but answering nothing
        try:
            started = time.monotonic()
            async with anyio.create_task_group() as tg:  # one in flight, the rest queued
                for name in SERVERS[:30]:
                    tg.start_soon(cache.get, CacheType.TOOLS, "gw-1", name)
            elapsed = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert not cache.health.ok  # a hung Redis is an outage
        # one round trip's timeout (with its retry), not thirty of them
        assert elapsed < 3 * COMMAND_TIMEOUT
