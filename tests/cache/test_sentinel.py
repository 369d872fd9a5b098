"""Sentinel: the master is found through the sentinels; an outage there is survived too."""

from __future__ import annotations

import time

import anyio
import pytest
from tests.cache.builders import config, entry, gateway
from tests.cache.fleet import eventually
from tests.cache.redis_topologies import RedisSentinel, RedisSentinelFactory

from mcp_discoveryd.cache import Backoff, coordinator_for, open_cache
from mcp_discoveryd.config.settings import CacheSettings
from mcp_discoveryd.models import CacheType
from mcp_discoveryd.secret import Secret, SecretUrl

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


MASTER_PW = "master-pw-0001"
SENTINEL_PW = "sentinel-pw-0002"


def _auth_settings(
    pair: RedisSentinel, url: str, sentinel_password: str | None = None
) -> CacheSettings:
    addresses = tuple(f"{host}:{port}" for host, port in pair.sentinels)
    return CacheSettings(
        backend="redis",
        url=SecretUrl(url),
        sentinels=addresses,
        sentinel_service=pair.service_name,
        sentinel_password=None if sentinel_password is None else Secret(sentinel_password),
    )


async def _roundtrip(settings: CacheSettings) -> str:
    cfg = config(settings, (gateway("gw-1", ("a",)),))
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "a")])
        return str(cache.health.state)


async def test_a_sentinel_that_requires_a_password_is_asked_with_sentinel_password(
    redis_sentinel_factory: RedisSentinelFactory,
) -> None:
    """sentinel_password reaches the sentinel, the URL's password the master."""
    pair = redis_sentinel_factory(master_password=MASTER_PW, sentinel_password=SENTINEL_PW)
    url = f"redis://:{MASTER_PW}@unused:1/0"
    assert await _roundtrip(_auth_settings(pair, url, sentinel_password=SENTINEL_PW)) == "ok"
    with pair.master.client() as conn:
        assert conn.dbsize() > 0


async def test_without_sentinel_password_the_cache_degrades_naming_authentication(
    redis_sentinel_factory: RedisSentinelFactory,
) -> None:
    """The master's password is not sent to the sentinels: without theirs it is refused."""
    pair = redis_sentinel_factory(master_password=MASTER_PW, sentinel_password=SENTINEL_PW)
    settings = _auth_settings(pair, f"redis://:{MASTER_PW}@unused:1/0")
    cfg = config(settings, (gateway("gw-1", ("a",)),))
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "a")])
        assert cache.health.state == "degraded"
        reason = cache.health.reason or ""
    assert "authentication" in reason or "master" in reason.lower()
    assert MASTER_PW not in reason and SENTINEL_PW not in reason


async def test_sentinel_and_master_over_tls_with_the_urls_ca(
    redis_sentinel_factory: RedisSentinelFactory,
) -> None:
    """rediss:// with ssl_ca_certs: the sentinels and the master are both reached over TLS."""
    pair = redis_sentinel_factory(
        master_password=MASTER_PW, sentinel_password=SENTINEL_PW, tls=True
    )
    url = f"rediss://:{MASTER_PW}@unused:1/0?ssl_ca_certs={pair.master.ca_path}"
    assert await _roundtrip(_auth_settings(pair, url, sentinel_password=SENTINEL_PW)) == "ok"
    with pair.master.client() as conn:
        assert conn.dbsize() > 0


async def test_leases_and_events_through_sentinel(redis_sentinel: RedisSentinel) -> None:
    """Behind Sentinel too: one lease holder, and an update reaches the other daemon's memory."""
    cfg = config(sentinel_settings(redis_sentinel), (gateway("gw-1", ("a",)),))
    async with open_cache(cfg, listen=True) as a, open_cache(cfg, listen=True) as b:
        assert await coordinator_for(a).try_acquire("gw-1", "a", 30) is not None
        assert await coordinator_for(b).try_acquire("gw-1", "a", 30) is None
        now = time.time()
        await a.put_many([entry("gw-1", "a", now=now - 5, tools=1)])
        assert await b.get(CacheType.TOOLS, "gw-1", "a") is not None
        await a.put_many([entry("gw-1", "a", now=now, tools=4)])

        def updated() -> bool:
            found = b.lookup(CacheType.TOOLS, "gw-1", "a")
            return found is not None and len(found.catalog.tools) == 4

        await eventually(updated, within=10)
