"""Degraded mode: Redis down at start or mid-run, the daemon carries on, nothing is lost."""

from __future__ import annotations

import time

import anyio
import pytest
from tests.cache.builders import config, entry, gateway, make_redis_backend, redis_settings
from tests.cache.redis_servers import RedisFactory, RedisServer

from mcp_discoveryd.cache import Backoff, Cache, open_cache
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis

FAST = Backoff(initial=0.05, maximum=0.2)


class Gate:
    """The recovery actor's sleep, held until the test opens it: no retry fires before then."""

    def __init__(self) -> None:
        self.waiting = anyio.Event()  # set once the actor waits for its first retry
        self._open = anyio.Event()

    async def sleep(self, delay: float) -> None:
        self.waiting.set()
        await self._open.wait()
        await anyio.sleep(0.01)  # later retries, if any, do not spin

    def open(self) -> None:
        self._open.set()


async def wait_healthy(cache: Cache) -> None:
    """Until the cache reports Redis healthy again (generous bound: backoff plus write-back)."""
    with anyio.fail_after(15):
        await cache.wait_healthy()


def healthy(cache: Cache) -> bool:
    """The cache's health now (a call, so that checks before and after an outage both count)."""
    return cache.health.ok


async def stored_servers(server: RedisServer, names: list[str]) -> set[str]:
    """Which of gw-1's servers a fresh reader finds in Redis."""
    backend = make_redis_backend(redis_settings(server.url))
    now = time.time()
    try:
        found = {n: await backend.get(CacheType.TOOLS, "gw-1", n, now=now) for n in names}
    finally:
        await backend.aclose()
    return {n for n, e in found.items() if e is not None}


async def test_redis_down_at_start_then_written_back(redis_server: RedisServer) -> None:
    """Opened while Redis is down: works from memory, says degraded, writes back when Redis starts."""
    await redis_server.astop()
    gw = gateway("gw-1", ("a", "b"))
    async with open_cache(config(redis_settings(redis_server.url), (gw,)), backoff=FAST) as cache:
        assert not healthy(cache)
        await cache.put_many([entry("gw-1", "a"), entry("gw-1", "b")])
        assert await cache.get(CacheType.TOOLS, "gw-1", "a") is not None
        status = await cache.status(gw)
        glob = status["cache_status"]["global"]
        assert glob["health"] == "degraded" and glob["degraded"]["pending_writes"] == 2
        assert status["cache_status"]["gateway_specific"]["tools"]["servers"]["a"]["exists"]
        await redis_server.astart()
        await wait_healthy(cache)
        assert cache.health.written_back == 2
        assert (await cache.status(gw))["cache_status"]["global"]["health"] == "ok"
    assert await stored_servers(redis_server, ["a", "b"]) == {"a", "b"}


async def test_killed_mid_run_and_restarted_empty_loses_nothing(redis_server: RedisServer) -> None:
    """Redis killed and restarted without its data: every live entry is written back."""
    gw = gateway("gw-1", ("a", "b", "c"))
    async with open_cache(config(redis_settings(redis_server.url), (gw,)), backoff=FAST) as cache:
        await cache.put_many([entry("gw-1", "a")])
        assert healthy(cache)
        await redis_server.akill()
        await cache.put_many([entry("gw-1", "b")])  # fails over to memory, no exception
        assert not healthy(cache)
        await cache.put_many([entry("gw-1", "c")])
        assert {e.server_name for e in cache.memory.entries()} == {"a", "b", "c"}
        for name in ("a", "b", "c"):
            assert await cache.get(CacheType.TOOLS, "gw-1", name) is not None
        assert (await cache.clear("gw-1", "ghost"))["status"] == "info"
        await redis_server.astart()  # empty: no persistence
        await wait_healthy(cache)
        assert await stored_servers(redis_server, ["a", "b", "c"]) == {"a", "b", "c"}


async def test_every_operation_survives_an_outage(redis_server: RedisServer) -> None:
    """get, put_many, status and clear all answer while Redis is gone; none raises."""
    gw = gateway("gw-1", ("a",))
    async with open_cache(config(redis_settings(redis_server.url), (gw,)), backoff=FAST) as cache:
        await redis_server.akill()
        assert await cache.get(CacheType.TOOLS, "gw-1", "a") is None  # detects the outage
        assert not healthy(cache)
        await cache.put_many([entry("gw-1", "a")])
        assert (await cache.status(gw))["cache_status"]["global"]["health"] == "degraded"
        assert (await cache.status(None))["status"] == "success"
        result = await cache.clear("gw-1", "a")
        assert result == {
            "status": "success",
            "message": "Cache cleared for server: a",
            "deferred": True,
        }


async def test_clear_during_outage_is_replayed(redis_factory: RedisFactory) -> None:
    """A clear made while Redis was down is applied to Redis when it returns, before write-back."""
    server = redis_factory(persistence=True)
    gw = gateway("gw-1", ("a", "b", "c"))
    gate = Gate()
    async with open_cache(config(redis_settings(server.url), (gw,)), sleep=gate.sleep) as cache:
        await cache.put_many([entry("gw-1", "a"), entry("gw-1", "b")])
        await server.astop()  # graceful: saves its data, comes back with it
        cleared = await cache.clear("gw-1", "a", gateways=(gw,))
        assert cleared["deferred"] is True
        await cache.put_many([entry("gw-1", "c")])
        await server.astart()
        with anyio.fail_after(10):
            await gate.waiting.wait()
        assert await stored_servers(server, ["a"]) == {"a"}  # still there until we replay
        gate.open()
        await wait_healthy(cache)
    assert await stored_servers(server, ["a", "b", "c"]) == {"b", "c"}


async def test_write_back_never_replaces_a_newer_entry(redis_factory: RedisFactory) -> None:
    """If another daemon stored a newer entry meanwhile, the write-back keeps it."""
    server = redis_factory(persistence=True)
    settings = redis_settings(server.url)
    gate = Gate()
    async with open_cache(config(settings), sleep=gate.sleep) as cache:
        old = entry("gw-1", "a", fetched_at=time.time() - 60, tools=1)
        await cache.put_many([old])
        await server.astop()
        await cache.put_many([old])  # the outage is seen here
        assert not healthy(cache)
        await server.astart()
        other = make_redis_backend(settings)  # another daemon, already reconnected
        newer = entry("gw-1", "a", tools=5)
        await other.put_many([newer], now=time.time())
        await other.aclose()
        gate.open()
        await wait_healthy(cache)
    reader = make_redis_backend(settings)
    try:
        assert await reader.get(CacheType.TOOLS, "gw-1", "a", now=time.time()) == newer
    finally:
        await reader.aclose()


async def test_retries_back_off_while_redis_stays_down(redis_server: RedisServer) -> None:
    """While Redis stays down the retry count grows and each wait is a backoff delay."""
    await redis_server.astop()
    started = time.time()
    delays: list[float] = []
    third = anyio.Event()

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 3:
            third.set()
        await anyio.sleep(0.01)

    async with open_cache(config(redis_settings(redis_server.url)), sleep=sleep) as cache:
        with anyio.fail_after(10):
            await third.wait()  # two retries have failed by now
        health = cache.health
        assert health.attempts >= 2
        assert not health.ok and health.reason
        assert health.next_retry_at is not None and health.next_retry_at > started
    for attempt, delay in enumerate(delays[:3]):  # the default backoff: 0.5 s doubling
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_grows_to_its_ceiling() -> None:
    """Delays double per attempt, with jitter inside [half, full], and stop at the maximum."""
    b = Backoff(initial=1.0, maximum=8.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (500, 8.0)]:
        delays = [b.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


class Boom(Exception):
    """The caller's own error."""


async def test_the_callers_exception_comes_out_unwrapped(redis_server: RedisServer) -> None:
    """An error raised inside the block is itself, not an ExceptionGroup of the task group."""
    with pytest.raises(Boom):
        async with open_cache(config(redis_settings(redis_server.url)), backoff=FAST):
            raise Boom


async def test_recovery_watches_before_the_cache_is_handed_out(redis_server: RedisServer) -> None:
    """The actor is started (handshake) before the block runs: an outage seen at once is retried."""
    await redis_server.astop()
    gate = Gate()
    async with open_cache(config(redis_settings(redis_server.url)), sleep=gate.sleep) as cache:
        assert not healthy(cache)
        with anyio.fail_after(10):
            await gate.waiting.wait()  # the actor is already waiting for its first retry
        await redis_server.astart()
        gate.open()
        await wait_healthy(cache)
