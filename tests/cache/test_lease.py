"""Refresh leases on a real Redis: one holder per key, takeover after expiry, safe release."""

from __future__ import annotations

import time

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cache.builders import config, entry, redis_settings
from tests.cache.fleet import caches, eventually
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import (
    Cache,
    KeySpace,
    Lease,
    LocalCoordinator,
    MemoryBackend,
    RedisLease,
    coordinator_for,
    open_cache,
)
from mcp_discoveryd.config.settings import CacheSettings

pytestmark = pytest.mark.redis

LEASE = KeySpace().lease_key("gw-1", "server-a")


async def test_exactly_one_of_three_caches_gets_the_lease(redis_server: RedisServer) -> None:
    """Three daemons ask at once; one is granted, the others are told it is held."""
    async with caches(redis_server.url, 3) as fleet:
        coordinators = [coordinator_for(c) for c in fleet]
        got: list[Lease | None] = [None] * 3

        async def ask(i: int) -> None:
            got[i] = await coordinators[i].try_acquire("gw-1", "server-a", 10)

        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(ask, i)
        granted = [lease for lease in got if lease is not None]
        assert len(granted) == 1 and isinstance(granted[0], RedisLease)
        assert not granted[0].degraded
        # Another key is independent.
        assert await coordinators[1].try_acquire("gw-1", "server-b", 10) is not None


async def test_release_lets_another_daemon_take_it(redis_server: RedisServer) -> None:
    """A released lease is free at once, for anyone."""
    async with caches(redis_server.url, 2) as (a, b):
        lease = await coordinator_for(a).try_acquire("gw-1", "server-a", 30)
        assert lease is not None
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is None
        assert await lease.release()
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is not None


async def test_an_expired_lease_is_taken_over_and_its_old_holder_touches_nothing(
    redis_server: RedisServer,
) -> None:
    """After PX runs out another daemon holds the key; the old holder's release and renew
    neither delete nor extend the new holder's lease."""
    async with caches(redis_server.url, 2) as (a, b):
        old = await coordinator_for(a).try_acquire("gw-1", "server-a", 30)
        assert old is not None
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is None
        with redis_server.client() as admin:
            # Its PX runs out now, not after a short TTL the steps above could outlast when slow.
            admin.pexpire(LEASE, 1)
            await eventually(lambda: not admin.exists(LEASE), within=10)
            new = await coordinator_for(b).try_acquire("gw-1", "server-a", 30)
            assert isinstance(new, RedisLease)
            assert not await old.release()
            assert not await old.renew(60)
            assert admin.get(LEASE) == new.token.encode()
            assert 25_000 < admin.pttl(LEASE) <= 30_000  # not extended to 60 s by the old holder


async def test_renew_keeps_a_long_discovery_s_lease(redis_server: RedisServer) -> None:
    """A holder that renews keeps the key past its first TTL."""
    ttl = 2.0
    async with caches(redis_server.url, 2) as (a, b):
        lease = await coordinator_for(a).try_acquire("gw-1", "server-a", ttl)
        assert lease is not None
        acquired = time.monotonic()
        # A renewal every quarter TTL until one falls past the first TTL, by the clock: a
        # stall of less than three quarters of the TTL between two keeps the key.
        while time.monotonic() - acquired <= ttl:
            await anyio.sleep(ttl / 4)
            assert await lease.renew()
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is None
        assert await lease.renew(0.05)
        await anyio.sleep(0.1)
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is not None


async def test_without_redis_every_lease_is_granted() -> None:
    """The memory cache's coordinator always grants and never makes anyone wait."""
    cache = Cache(CacheSettings(), memory=MemoryBackend())
    coordinator = coordinator_for(cache)
    assert isinstance(coordinator, LocalCoordinator)
    first = await coordinator.try_acquire("gw-1", "server-a", 10)
    second = await coordinator.try_acquire("gw-1", "server-a", 10)
    assert first is not None and second is not None and not first.degraded
    assert await coordinator.wait_for_update("gw-1", "server-a", 10) == "released"


async def test_unreachable_redis_grants_locally_without_blocking(redis_server: RedisServer) -> None:
    """Redis down: a degraded local lease at once, and no wait for a holder nobody can see."""
    async with open_cache(config(redis_settings(redis_server.url))) as cache:
        coordinator = coordinator_for(cache)
        held = await coordinator.try_acquire("gw-1", "server-a", 30)
        assert held is not None
        await redis_server.astop()
        with anyio.fail_after(5):
            lease = await coordinator.try_acquire("gw-1", "server-a", 30)
            assert lease is not None and lease.degraded
            assert await coordinator.wait_for_update("gw-1", "server-a", 30) == "released"
            assert not await held.release()  # it expires by itself


async def test_waiter_wakes_on_the_holder_s_write_not_the_poll(redis_server: RedisServer) -> None:
    """The waiting daemon returns on the holder's "updated" event (the poll is minutes away),
    and the entry it then reads is the holder's."""
    async with caches(redis_server.url, 2) as (a, b):
        lease = await coordinator_for(a).try_acquire("gw-1", "server-a", 30)
        assert lease is not None
        waiting = coordinator_for(b, poll_interval=300)
        written = entry("gw-1", "server-a", tools=7)
        result: list[str] = []

        async def wait() -> None:
            result.append(await waiting.wait_for_update("gw-1", "server-a", 30))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.1)
            started = time.monotonic()
            await a.put_many([written])
        assert result == ["updated"] and time.monotonic() - started < 2
        found = await b.get(written.cache_type, "gw-1", "server-a")
        assert found is not None and len(found.catalog.tools) == 7


async def test_waiter_returns_when_the_lease_ends_without_a_result(
    redis_server: RedisServer,
) -> None:
    """A holder that gives up (released, or died and expired) ends the wait by the poll."""
    async with caches(redis_server.url, 2) as (a, b):
        lease = await coordinator_for(a).try_acquire("gw-1", "server-a", 30)
        assert lease is not None
        waiting = coordinator_for(b, poll_interval=0.05)
        assert await waiting.wait_for_update("gw-1", "server-a", 0.3) == "timeout"
        async with anyio.create_task_group() as tg:
            tg.start_soon(lease.release)
            with anyio.fail_after(5):
                assert await waiting.wait_for_update("gw-1", "server-a", 30) == "released"


async def test_own_events_do_not_wake_own_waiters(redis_server: RedisServer) -> None:
    """A daemon's own write is not another daemon's result: only the other one wakes."""
    async with caches(redis_server.url, 2) as (a, b):
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 30) is not None
        mine = coordinator_for(a, poll_interval=300)
        results: dict[str, str] = {}

        async def wait(name: str, cache: Cache) -> None:
            coordinator = mine if cache is a else coordinator_for(cache, poll_interval=300)
            results[name] = await coordinator.wait_for_update("gw-1", "server-a", 2.0)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, "a", a)
            tg.start_soon(wait, "b", b)
            await anyio.sleep(0.1)
            await a.put_many([entry("gw-1", "server-a")])
        assert results == {"a": "timeout", "b": "updated"}


Op = tuple[str, int]
OPS = st.lists(
    st.tuples(st.sampled_from(["acquire", "release", "renew", "expire"]), st.integers(0, 2)),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS)
def test_no_interleaving_lets_a_holder_remove_or_extend_another_s_lease(
    redis_server: RedisServer, ops: list[Op]
) -> None:
    """Any order of acquire, release, renew and expiry among three daemons: the key always holds
    the token of the last grant (or nothing), and only that grant's release or renew works."""

    async def main() -> None:
        redis_server.flushall()
        async with caches(redis_server.url, 3, listen=False) as fleet:
            coordinators = [coordinator_for(c) for c in fleet]
            leases: list[RedisLease | None] = [None, None, None]
            current: RedisLease | None = None
            with redis_server.client() as admin:
                for op, who in ops:
                    mine = leases[who]
                    if op == "acquire":
                        got = await coordinators[who].try_acquire("gw-1", "server-a", 60)
                        assert (got is not None) == (current is None)
                        if isinstance(got, RedisLease):
                            leases[who] = current = got
                    elif op == "expire":
                        admin.delete(LEASE)  # what PX does when it runs out
                        current = None
                    elif mine is not None and op == "release":
                        assert await mine.release() == (mine is current)
                        current = None if mine is current else current
                    elif mine is not None:
                        assert await mine.renew() == (mine is current)
                    stored = admin.get(LEASE)
                    assert stored == (current.token.encode() if current else None)

    anyio.run(main)


async def test_a_cancelled_holder_still_releases(redis_server: RedisServer) -> None:
    """Release from the ``finally`` of a cancelled discovery (shutdown) still frees the key."""
    async with caches(redis_server.url, 2, listen=False) as (a, b):
        holder = coordinator_for(a)

        async def discover() -> None:
            lease = await holder.try_acquire("gw-1", "server-a", 60)
            assert lease is not None
            try:
                await anyio.sleep_forever()
            finally:
                assert await lease.release()

        async with anyio.create_task_group() as tg:
            tg.start_soon(discover)
            await anyio.sleep(0.2)
            tg.cancel_scope.cancel()
        assert await coordinator_for(b).try_acquire("gw-1", "server-a", 60) is not None
