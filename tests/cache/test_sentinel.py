"""Sentinel: the master is found through the sentinels; an outage there is survived too."""

from __future__ import annotations

import anyio
import pytest
from tests.cache.builders import config, entry, gateway
from tests.cache.redis_topologies import RedisSentinel

from mcp_discoveryd.cache import Backoff, open_cache
from mcp_discoveryd.config.model import CacheSettings
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis


def sentinel_settings(pair: RedisSentinel) -> CacheSettings:
    addresses = tuple(f"{host}:{port}" for host, port in pair.sentinels)
    return CacheSettings(backend="redis", sentinels=addresses, sentinel_service=pair.service_name)


async def test_entries_go_to_the_master_the_sentinel_names(redis_sentinel: RedisSentinel) -> None:
    """With only sentinel addresses configured, entries land on the monitored master."""
    cfg = config(sentinel_settings(redis_sentinel), (gateway("gw-1", ("a",)),))
    async with open_cache(cfg) as cache:
        assert cache.backend == "redis-sentinel"
        await cache.put_many([entry("gw-1", "a")])
        status = await cache.status(cfg.gateways[0])
    assert status["cache_status"]["global"]["health"] == "ok"
    assert status["cache_status"]["global"]["backend"] == "redis-sentinel"
    with redis_sentinel.master.client() as conn:
        assert conn.dbsize() > 0
    async with open_cache(cfg) as cache:
        assert await cache.get(CacheType.TOOLS, "gw-1", "a") is not None
        assert cache.memory.entry_count == 1  # it came from Redis, through the sentinel


async def test_master_outage_behind_sentinel_is_survived(redis_sentinel: RedisSentinel) -> None:
    """The master killed and restarted empty: degraded meanwhile, written back after."""
    cfg = config(sentinel_settings(redis_sentinel), (gateway("gw-1", ("a", "b")),))
    async with open_cache(cfg, backoff=Backoff(initial=0.05, maximum=0.2)) as cache:
        await cache.put_many([entry("gw-1", "a")])
        await redis_sentinel.master.akill()
        await cache.put_many([entry("gw-1", "b")])
        assert cache.health.state == "degraded"
        await redis_sentinel.master.astart()
        with anyio.fail_after(20):
            await cache.wait_healthy()
    with redis_sentinel.master.client() as conn:
        assert conn.dbsize() >= 4  # two entries, the index, the global sets
