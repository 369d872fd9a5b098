"""Memory in front of Redis: which tier answers, what is counted, what is shared."""

from __future__ import annotations

import time

import pytest
from tests.cache.builders import HOUR, config, entry, make_redis_backend, redis_settings
from tests.cache.counting import CountingConnection
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import CacheStats, open_cache
from mcp_discoveryd.cache.stats import Reader, Result, Tier
from mcp_discoveryd.models import CacheType


class Recorder:
    """A stats listener that keeps every event (what telemetry would receive)."""

    def __init__(self) -> None:
        self.requests: list[tuple[CacheType, Tier, Result, Reader]] = []
        self.operations: list[tuple[str, str, bool]] = []

    def on_request(self, cache_type: CacheType, tier: Tier, result: Result, reader: Reader) -> None:
        self.requests.append((cache_type, tier, result, reader))

    def on_operation(self, operation: str, backend: str, seconds: float, ok: bool) -> None:
        assert seconds >= 0
        self.operations.append((operation, backend, ok))


async def test_memory_only_counts_hit_stale_miss() -> None:
    """Without Redis every lookup is answered by memory and counted by result."""
    stats = CacheStats()
    recorder = Recorder()
    stats.add_listener(recorder)
    now = time.time()
    async with open_cache(config(), stats=stats) as cache:
        await cache.put_many(
            [
                entry("gw-1", "fresh", now=now),
                entry("gw-1", "old", fetched_at=now - 4.5 * HOUR, now=now),
            ]
        )
        assert await cache.get(CacheType.TOOLS, "gw-1", "fresh") is not None
        assert await cache.get(CacheType.TOOLS, "gw-1", "old") is not None
        assert await cache.get(CacheType.TOOLS, "gw-1", "none") is None
    assert recorder.requests == [
        (CacheType.TOOLS, "memory", "hit", "daemon"),
        (CacheType.TOOLS, "memory", "stale", "daemon"),
        (CacheType.TOOLS, "memory", "miss", "daemon"),
    ]
    assert stats.snapshot().results() == {"hit": 1, "stale": 1, "miss": 1}


def test_sync_lookup_serves_the_memory_snapshot() -> None:
    """``lookup`` needs no event loop: the control socket's read path."""
    import anyio

    async def fill() -> object:
        async with open_cache(config()) as cache:
            await cache.put_many([entry()])
            return cache

    cache = anyio.run(fill)
    found = cache.lookup(CacheType.TOOLS, "gw-1", "server-a")  # type: ignore[attr-defined]  # a Cache
    assert found is not None and found.server_name == "server-a"


@pytest.mark.redis
async def test_fresh_memory_hit_makes_no_round_trip(redis_server: RedisServer) -> None:
    """A fresh entry in memory is answered without asking Redis."""
    settings = redis_settings(redis_server.url)
    async with open_cache(config(settings), connection_class=CountingConnection) as cache:
        await cache.put_many([entry()])
        before = CountingConnection.sends
        for _ in range(20):
            assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") is not None
        assert CountingConnection.sends == before


@pytest.mark.redis
async def test_entry_from_another_daemon_is_read_and_kept(redis_server: RedisServer) -> None:
    """An entry another daemon wrote is found in Redis, counted as a Redis hit, then held in memory."""
    settings = redis_settings(redis_server.url)
    other = make_redis_backend(settings)
    shared = entry()
    await other.put_many([shared], now=time.time())
    await other.aclose()
    stats = CacheStats()
    async with open_cache(config(settings), stats=stats) as cache:
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") == shared
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") == shared
        assert cache.memory.entry_count == 1
    requests = stats.snapshot().requests
    assert requests[(CacheType.TOOLS, "redis", "hit", "daemon")] == 1
    assert requests[(CacheType.TOOLS, "memory", "hit", "daemon")] == 1


@pytest.mark.redis
async def test_stale_memory_entry_yields_to_a_newer_one_in_redis(redis_server: RedisServer) -> None:
    """When memory only has a stale entry, a newer one refreshed by another daemon wins."""
    settings = redis_settings(redis_server.url)
    now = time.time()
    async with open_cache(config(settings)) as cache:
        await cache.put_many([entry(fetched_at=now - 5 * HOUR, now=now, tools=1)])
        other = make_redis_backend(settings)
        newer = entry(now=now, tools=6)
        await other.put_many([newer], now=now)
        await other.aclose()
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") == newer


@pytest.mark.redis
async def test_miss_in_both_tiers_is_a_redis_miss(redis_server: RedisServer) -> None:
    """A lookup that asked Redis and found nothing is counted as a Redis-tier miss."""
    stats = CacheStats()
    async with open_cache(config(redis_settings(redis_server.url)), stats=stats) as cache:
        assert await cache.get(CacheType.TOOLS, "gw-1", "nothing") is None
    assert stats.snapshot().requests == {(CacheType.TOOLS, "redis", "miss", "daemon"): 1}


@pytest.mark.redis
async def test_round_trips_are_timed_for_telemetry(redis_server: RedisServer) -> None:
    """Every Redis round trip is recorded with its operation, backend and outcome."""
    stats = CacheStats()
    recorder = Recorder()
    stats.add_listener(recorder)
    async with open_cache(config(redis_settings(redis_server.url)), stats=stats) as cache:
        await cache.put_many([entry()])
        await cache.status(None)
    assert ("ping", "redis", True) in recorder.operations
    assert ("put_many", "redis", True) in recorder.operations
    assert ("inspect", "redis", True) in recorder.operations
    ops = stats.snapshot().operations
    assert ops[("put_many", "redis")].count == 1 and ops[("put_many", "redis")].total_s > 0
