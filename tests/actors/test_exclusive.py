"""``exclusive``: a change to an entry (accepting a tool change) made under the key's lease,
to the newest entry, never in the middle of another daemon's refresh. Two caches on one
real Redis, each with its listener, as two daemons."""

from __future__ import annotations

import time

import anyio
import pytest
from tests.cache.builders import entry
from tests.cache.fleet import GATEWAY, caches
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.actors.coordination import exclusive
from mcp_discoveryd.cache.lease import coordinator_for
from mcp_discoveryd.discovery.selection import Selection
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis

SEL = Selection(GATEWAY, GATEWAY.servers[0])


async def test_a_change_waits_for_another_daemons_refresh_and_is_made_to_its_entry(
    redis_server: RedisServer,
) -> None:
    async with caches(redis_server.url, 2) as (ours, theirs):
        old = entry("gw-1", "server-a", fetched_at=time.time() - 60)
        await ours.put_many([old])
        lease = await coordinator_for(theirs).try_acquire("gw-1", "server-a", 10.0)
        assert lease is not None  # their refresh is under way
        order: list[str] = []

        async def their_refresh() -> None:
            await anyio.sleep(0.3)
            await theirs.put_many([entry("gw-1", "server-a", fetched_at=time.time())])
            order.append("their write")
            await lease.release()

        async with anyio.create_task_group() as tg:
            tg.start_soon(their_refresh)
            coordinator = coordinator_for(ours, poll_interval=0.05)
            async with exclusive(coordinator, ours, SEL, lease_ttl=5.0, wait_limit=5.0) as held:
                order.append("our change")
                assert held is not None and held.fetched_at > old.fetched_at  # theirs
                # theirs cannot start a refresh now: the lease is ours
                assert await coordinator_for(theirs).try_acquire("gw-1", "server-a", 5.0) is None
        assert order == ["their write", "our change"]
        again = await coordinator_for(theirs).try_acquire("gw-1", "server-a", 5.0)
        assert again is not None  # released after the block
        await again.release()


async def test_a_change_without_another_daemon_takes_the_lease_and_reads_redis(
    redis_server: RedisServer,
) -> None:
    async with caches(redis_server.url, 2) as (ours, theirs):
        newer = entry("gw-1", "server-a", fetched_at=time.time())
        await ours.put_many([entry("gw-1", "server-a", fetched_at=time.time() - 60)])
        await theirs.put_many([newer])  # our memory may not have heard yet
        coordinator = coordinator_for(ours)
        async with exclusive(coordinator, ours, SEL, lease_ttl=5.0, wait_limit=5.0) as held:
            assert held is not None and held.fetched_at == newer.fetched_at
        assert ours.lookup(CacheType.TOOLS, "gw-1", "server-a") == held
