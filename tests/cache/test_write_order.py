"""Writes from several daemons in any order: the entry fetched last is the one Redis keeps."""

from __future__ import annotations

import time

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cache.builders import entry, make_redis_backend, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import CacheEvent
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis

WRITES = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4), st.integers(0, 3)), max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(WRITES)
def test_an_older_fetched_at_never_replaces_a_newer_one(
    redis_server: RedisServer, writes: list[tuple[int, int, int]]
) -> None:
    """Three writers, versions in any order: Redis holds the newest version written so far (the
    last write of it, so a failure recorded on that version counts), and each skipped write is
    reported as skipped."""

    async def main() -> None:
        redis_server.flushall()
        backends = [make_redis_backend(redis_settings(redis_server.url)) for _ in range(3)]
        base = time.time()
        newest: tuple[int, int] | None = None  # (version, failures) Redis must hold
        try:
            for writer, version, failures in writes:
                written = entry(
                    "gw-1", "server-a", now=base + version, consecutive_failures=failures
                )
                skipped = await backends[writer].put_many([written], now=time.time())
                older = newest is not None and version < newest[0]
                assert skipped == ([(CacheType.TOOLS, "gw-1", "server-a")] if older else [])
                if not older:
                    newest = (version, failures)
                stored = await backends[0].get(CacheType.TOOLS, "gw-1", "server-a", now=base)
                assert stored is not None and newest is not None
                assert (stored.fetched_at, stored.consecutive_failures) == (
                    base + newest[0],
                    newest[1],
                )
        finally:
            for backend in backends:
                await backend.aclose()

    anyio.run(main)


async def test_a_skipped_write_publishes_nothing(redis_server: RedisServer) -> None:
    """Only a write that happened is announced: the older one sends no "updated" event."""
    backend = make_redis_backend(redis_settings(redis_server.url))
    now = time.time()
    with redis_server.client() as admin, admin.pubsub() as pubsub:
        pubsub.subscribe(backend.keys.events_channel)
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # listening before writes
        try:
            await backend.put_many([entry("gw-1", "server-a", now=now)], now=now)
            await backend.put_many([entry("gw-1", "server-a", now=now - 60)], now=now)
            await backend.put_many([entry("gw-1", "server-b", now=now)], now=now)
        finally:
            await backend.aclose()
        events = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            if message["type"] == "message":
                events.append(CacheEvent.decode(message["data"]))
    assert [(e.fetched_at, e.member) for e in events if e is not None] == [
        (now, backend.keys.member(CacheType.TOOLS, "server-a")),
        (now, backend.keys.member(CacheType.TOOLS, "server-b")),
    ]
