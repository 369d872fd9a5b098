"""The invalidation listener on a real Redis: other daemons' writes and clears reach memory,
and a listener that lost its connection resyncs from the indexes and the recorded clears."""

from __future__ import annotations

import time
from functools import partial

import anyio
import pytest
from tests.cache.builders import config, entry, make_redis_backend, redis_settings
from tests.cache.fleet import GATEWAY, caches, eventually
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import Cache, KeySpace, open_cache, run_listener
from mcp_discoveryd.models import CacheEntry, CacheType

pytestmark = pytest.mark.redis

TOOLS = CacheType.TOOLS


def held_tools(cache: Cache, server: str = "server-a") -> int | None:
    """How many tools the entry in this cache's memory lists (None: not held)."""
    found = cache.lookup(TOOLS, "gw-1", server)
    return None if found is None else len(found.catalog.tools)


class Gate:
    """The listener's reconnect sleep, held until the test opens it."""

    def __init__(self) -> None:
        self.waiting = anyio.Event()
        self._open = anyio.Event()

    async def sleep(self, delay: float) -> None:
        self.waiting.set()
        await self._open.wait()

    def open(self) -> None:
        self._open.set()


async def test_an_update_reaches_the_other_daemon_s_memory_within_a_second(
    redis_server: RedisServer,
) -> None:
    """B holds v1 in memory (fresh, so reads never ask Redis); A writes v2; B's memory has v2."""
    async with caches(redis_server.url, 2) as (a, b):
        now = time.time()
        await a.put_many([entry("gw-1", "server-a", now=now - 5, tools=1)])
        assert await b.get(TOOLS, "gw-1", "server-a") is not None and held_tools(b) == 1
        await a.put_many([entry("gw-1", "server-a", now=now, tools=4)])
        await eventually(lambda: held_tools(b) == 4, within=1.0)


async def test_an_update_of_an_entry_not_held_is_not_loaded(redis_server: RedisServer) -> None:
    """The listener refreshes what this daemon holds; it does not fill memory with the rest."""
    async with caches(redis_server.url, 2) as (a, b):
        await a.put_many([entry("gw-1", "server-b", tools=2), entry("gw-1", "server-a")])
        await b.get(TOOLS, "gw-1", "server-a")
        await a.put_many([entry("gw-1", "server-a", tools=5)])
        await eventually(lambda: held_tools(b) == 5, within=10)  # a bound on a hang only
        assert held_tools(b, "server-b") is None


async def test_a_clear_drops_the_entry_from_the_other_daemon_s_memory(
    redis_server: RedisServer,
) -> None:
    """ "cleared" from A removes the server's entry from B's memory, and only that one."""
    async with caches(redis_server.url, 2) as (a, b):
        await a.put_many([entry("gw-1", "server-a"), entry("gw-1", "server-b")])
        for name in ("server-a", "server-b"):
            assert await b.get(TOOLS, "gw-1", name) is not None
        await a.clear("gw-1", "server-a")
        await eventually(lambda: held_tools(b) is None, within=10)  # a bound on a hang only
        assert held_tools(b, "server-b") == 3


async def test_an_older_write_never_replaces_a_newer_one(redis_server: RedisServer) -> None:
    """A late writer with an older fetched_at changes neither Redis nor the other's memory,
    and its own memory then serves the newer entry."""
    async with caches(redis_server.url, 2) as (a, b):
        now = time.time()
        await a.put_many([entry("gw-1", "server-a", now=now, tools=4)])
        await b.put_many([entry("gw-1", "server-a", now=now - 60, tools=1)])
        stored = await _stored(redis_server)
        assert stored is not None and len(stored.catalog.tools) == 4
        # Ours was older: dropped (the next read asks Redis), or already replaced by the
        # newer one through B's listener; never kept.
        assert held_tools(b) in (None, 4)
        found = await b.get(TOOLS, "gw-1", "server-a")
        assert found is not None and len(found.catalog.tools) == 4
        await anyio.sleep(0.3)  # an event for the skipped write would have arrived by now
        assert held_tools(a) == 4


async def test_a_listener_that_lost_redis_resyncs_what_it_missed(
    redis_server: RedisServer,
) -> None:
    """Redis restarts; while B's listener is away, an entry B holds gets newer and another is
    cleared (their events are lost). Back, B re-reads the index and the recorded clears."""
    gate = Gate()
    cfg = config(redis_settings(redis_server.url), (GATEWAY,))
    async with (
        open_cache(cfg) as a,
        open_cache(cfg, listen=False) as b,
        anyio.create_task_group() as tg,
    ):
        await tg.start(partial(run_listener, b, sleep=gate.sleep))
        now = time.time()
        await a.put_many([entry("gw-1", n, now=now - 5, tools=1) for n in ("server-a", "server-b")])
        for name in ("server-a", "server-b"):
            assert await b.get(TOOLS, "gw-1", name) is not None
        await redis_server.arestart()  # empty again: nothing persisted
        with anyio.fail_after(10):
            await gate.waiting.wait()
        await _write(redis_server, entry("gw-1", "server-a", now=now, tools=6))
        await a.put_many([entry("gw-1", "server-b", now=now - 5, tools=1)])  # so a clear removes
        await a.clear("gw-1", "server-b")
        assert held_tools(b) == 1 and held_tools(b, "server-b") == 1  # nothing arrived
        gate.open()
        await eventually(lambda: held_tools(b) == 6 and held_tools(b, "server-b") is None, 10)
        tg.cancel_scope.cancel()


async def test_a_redis_restarted_empty_gets_the_held_entries_back(
    redis_server: RedisServer,
) -> None:
    """Redis restarts without its data while the cache is idle (it never sees the outage):
    the listener's resync writes back what memory holds, so other daemons find it."""
    async with caches(redis_server.url, 1) as (cache,):
        await cache.put_many([entry("gw-1", "server-a", tools=2)])
        await redis_server.arestart()
        await eventually(lambda: _exists(redis_server), within=10)
    stored = await _stored(redis_server)
    assert stored is not None and len(stored.catalog.tools) == 2


def _exists(server: RedisServer) -> bool:
    with server.client() as admin:
        return bool(admin.exists(KeySpace().entry_key(TOOLS, "gw-1", "server-a")))


async def test_a_silent_reconnect_is_followed_by_a_resync(redis_server: RedisServer) -> None:
    """redis-py may reconnect and subscribe again by itself (no error reaches the listener):
    the second subscribe confirmation is enough to resync."""
    async with caches(redis_server.url, 2) as (a, b):
        now = time.time()
        await a.put_many([entry("gw-1", "server-a", now=now - 5, tools=1)])
        assert await b.get(TOOLS, "gw-1", "server-a") is not None
        await _write(redis_server, entry("gw-1", "server-a", now=now, tools=3), publish=False)
        with redis_server.client() as admin:
            admin.client_kill_filter(_type="pubsub")  # every listener's connection, at once
        await eventually(lambda: held_tools(b) == 3, within=10)


async def test_a_restarted_listener_resyncs_on_its_first_subscription(
    redis_server: RedisServer,
) -> None:
    """A listener (re)started by a supervisor has missed whatever was published while it was
    not running: it resyncs before it reports ready."""
    cfg = config(redis_settings(redis_server.url), (GATEWAY,))
    async with open_cache(cfg) as a, open_cache(cfg) as b, anyio.create_task_group() as tg:
        now = time.time()
        await a.put_many([entry("gw-1", "server-a", now=now - 5, tools=1)])
        assert await b.get(TOOLS, "gw-1", "server-a") is not None
        await a.put_many([entry("gw-1", "server-a", now=now, tools=2)])
        assert held_tools(b) == 1  # nobody listened
        await tg.start(run_listener, b)
        assert held_tools(b) == 2
        tg.cancel_scope.cancel()


async def test_a_cancelled_listener_leaves_no_subscription(redis_server: RedisServer) -> None:
    """Cancelled (shutdown, or a supervisor's restart), the listener closes its connection."""

    def subscribers() -> int:
        with redis_server.client() as admin:
            return len(admin.client_list(_type="pubsub"))

    cfg = config(redis_settings(redis_server.url), (GATEWAY,))
    async with open_cache(cfg) as cache:
        async with anyio.create_task_group() as tg:
            await tg.start(run_listener, cache)
            assert subscribers() == 1
            tg.cancel_scope.cancel()
        assert subscribers() == 0


async def _stored(server: RedisServer) -> CacheEntry | None:
    backend = make_redis_backend(redis_settings(server.url))
    try:
        return await backend.get(TOOLS, "gw-1", "server-a", now=time.time())
    finally:
        await backend.aclose()


async def _write(server: RedisServer, written: CacheEntry, *, publish: bool = True) -> None:
    """Write as a third daemon would; without ``publish``, its event is sent to no one."""
    settings = redis_settings(server.url, key_prefix="mcpd")
    backend = make_redis_backend(settings)
    if not publish:
        backend.keys.events_channel = "nobody-listens"
    try:
        assert await backend.put_many([written], now=time.time()) == []
    finally:
        await backend.aclose()
