"""A busy Redis pool is asked again only for ``[cache] busy_wait``, then fails naming the pool.

The bound is checked over generated round-trip times and busy spells on a fake clock
(``patiently``'s clock and sleep seams); a real redis-server whose two pooled
connections are held by subscriptions shows a write, a clear and a lease ending in
``CacheBusyError`` within the bound while the cache stays healthy.
"""

from __future__ import annotations

import itertools
import time

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cache.builders import config, entry, gateway, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.cache.busy import BUSY_PAUSE, BUSY_PAUSE_MAX, patiently, pauses
from mcp_discoveryd.cache.gate import Gate
from mcp_discoveryd.cache.lease import coordinator_for
from mcp_discoveryd.cache.redis import COMMAND_TIMEOUT
from mcp_discoveryd.errors import CacheBusyError, CacheUnavailableError
from mcp_discoveryd.models import CacheType


class _Clock:
    """Seconds that pass only when a round trip or a pause says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.paused: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.paused.append(seconds)
        self.now += seconds


@settings(max_examples=200, deadline=None)
@given(
    limit=st.floats(0.0, 30.0),
    trips=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=20),
    busy_for=st.integers(0, 80),
)
def test_a_busy_pool_is_asked_again_within_busy_wait_then_fails_naming_the_pool(
    limit: float, trips: list[float], busy_for: int
) -> None:
    clock, gate = _Clock(), Gate(3, "redis")
    started: list[float] = []  # when each attempt began

    async def op() -> str:
        started.append(clock.now)
        clock.now += trips[(len(started) - 1) % len(trips)]
        if len(started) <= busy_for:
            raise CacheBusyError("redis", "no pooled connection came free in time")
        return "done"

    async def main() -> str | CacheBusyError:
        try:
            return await patiently(op, limit=limit, pool=gate, clock=clock, sleep=clock.sleep)
        except CacheBusyError as exc:
            return exc

    result = anyio.run(main)
    # never paused past the bound, and no attempt began after it
    assert sum(clock.paused) <= limit + 1e-9
    assert all(at <= limit + 1e-9 for at in started)
    if result == "done":
        assert len(started) == busy_for + 1
        assert gate.figures().gave_up == 0
        return
    assert isinstance(result, CacheBusyError)
    assert len(started) <= busy_for  # it gave up while the pool was still busy
    # ...and only when the next pause would have crossed the bound
    next_pause = next(itertools.islice(pauses(limit), len(started) - 1, None))
    assert clock.now + next_pause > limit
    assert gate.figures().gave_up == 1
    assert "connection pool of 3 connection(s) stayed busy" in str(result)
    assert f"through {len(started)} attempt(s)" in result.reason


@given(limit=st.floats(0.0, 100.0))
def test_the_pauses_double_from_the_first_up_to_the_most_and_never_exceed_the_bound(
    limit: float,
) -> None:
    taken = list(itertools.islice(pauses(limit), 12))
    assert taken[0] == min(BUSY_PAUSE, limit)
    assert all(p <= min(BUSY_PAUSE_MAX, limit) for p in taken)
    assert all(b == min(2 * a, BUSY_PAUSE_MAX, limit) for a, b in itertools.pairwise(taken))


async def test_an_outage_is_raised_at_once_never_asked_again() -> None:
    calls = 0

    async def op() -> None:
        nonlocal calls
        calls += 1
        raise CacheUnavailableError("redis", "connection refused")

    with pytest.raises(CacheUnavailableError):
        await patiently(op, limit=30.0)
    assert calls == 1


GATEWAY = gateway("gw-1", ("s0", "s1"))


@pytest.mark.slow
@pytest.mark.redis
async def test_on_a_held_pool_a_write_is_owed_a_clear_and_a_lease_fail_as_busy_and_health_stays(
    redis_server: RedisServer,
) -> None:
    """Both pooled connections held by subscriptions: each operation's pool wait ends busy;
    with busy_wait 0.2 s each gives up after one attempt instead of asking forever. The
    writes are held in memory and owed; the first write after the spell takes them along."""
    settings_ = redis_settings(f"{redis_server.url}?max_connections=2", busy_wait=0.2)
    async with open_cache(config(settings_, (GATEWAY,))) as cache:
        await cache.put_many([entry("gw-1", "s0")])
        since = cache.health.since
        remote = cache.remote
        assert remote is not None and cache.pool is not None
        connection = remote.connection  # type: ignore[attr-defined]
        coordinator = coordinator_for(cache)
        failures: list[CacheBusyError] = []
        async with connection.subscribe("a") as _, connection.subscribe("b") as _:
            with anyio.fail_after(5 * 2 * COMMAND_TIMEOUT):  # asking forever never ends
                await cache.put_many([entry("gw-1", "s1")])  # held here, owed to Redis
                await cache.record([], (GATEWAY,))  # start and reload: the same
                for operation in (
                    lambda: cache.clear("gw-1", "s0", "tools", gateways=(GATEWAY,)),
                    lambda: coordinator.try_acquire("gw-1", "s0", 30.0),
                ):
                    with pytest.raises(CacheBusyError) as busy:
                        await operation()
                    failures.append(busy.value)
            owed = cache.pending_writes()
            written = cache.lookup(CacheType.TOOLS, "gw-1", "s1")
            config_entry = cache.lookup(CacheType.GATEWAY_CONFIG, "gw-1", None)
        assert written is not None and config_entry is not None  # in memory, not shared
        assert owed == ((CacheType.GATEWAY_CONFIG, "gw-1", None), (CacheType.TOOLS, "gw-1", "s1"))
        assert await remote.fetch(CacheType.TOOLS, "gw-1", "s1", now=time.time()) is None
        pool = (await cache.status(GATEWAY))["cache_status"]["global"]["pool"]
        assert cache.health.ok and cache.health.since == since  # load, never an outage
        await cache.put_many([entry("gw-1", "s2")])  # the pool is free again
        assert cache.pending_writes() == ()
        for name in ("s1", "s2"):
            assert await remote.fetch(CacheType.TOOLS, "gw-1", name, now=time.time()) is not None
    for failure in failures:
        assert "connection pool of 1 connection(s) stayed busy through 1 attempt(s)" in str(failure)
    assert pool["gave_up"] == 4 and pool["exhausted"] >= 4
    assert pool["size"] == 1 and pool["waiting"] == 0


@pytest.mark.slow
@pytest.mark.redis
async def test_status_shows_the_pool_queue_its_peak_and_the_round_trips_that_queued(
    redis_server: RedisServer,
) -> None:
    """Ten writes at once through a gate of one: nine queue; status says so after."""
    from tests.cache.lagging import LaggingConnection

    settings_ = redis_settings(f"{redis_server.url}?max_connections=2")
    cfg = config(settings_, (GATEWAY,))
    async with open_cache(cfg, connection_class=LaggingConnection) as cache:
        pool = cache.pool
        assert pool is not None
        before = (await cache.status())["cache_status"]["global"]["pool"]
        waiting: list[int] = []
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(cache.put_many, [entry("gw-1", f"s{i % 2}")])
            await anyio.sleep(0.01)
            waiting.append(pool.figures().waiting)
        after = (await cache.status())["cache_status"]["global"]["pool"]
    assert before["queued"] == 0 and before["waiting_peak"] == 0
    assert waiting == [9]
    assert after["waiting"] == 0 and after["in_use"] == 0
    assert after["waiting_peak"] == 9 and after["queued"] == 9
    assert after["exhausted"] == 0 and after["gave_up"] == 0
