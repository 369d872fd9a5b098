"""Redis Cluster: one gateway's keys in one slot, pipelines across nodes, the full cache on top."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from redis.cluster import RedisCluster as ClusterClient
from tests.cache.builders import config, entry, gateway, make_redis_backend, redis_settings
from tests.cache.fleet import eventually
from tests.cache.redis_topologies import RedisCluster

from mcp_discoveryd.cache import coordinator_for, open_cache
from mcp_discoveryd.config.settings import CacheSettings
from mcp_discoveryd.models import CacheEntry, CacheType

pytestmark = pytest.mark.redis


def cluster_settings(cluster: RedisCluster, **overrides: object) -> CacheSettings:
    return redis_settings(cluster.url, cluster=True, **overrides)


def all_keys(cluster: RedisCluster) -> list[str]:
    """Every key on every master."""
    names: list[str] = []
    for server in cluster.servers:
        with server.client() as conn:
            names += [k.decode() for k in conn.scan_iter(count=1000)]
    return sorted(names)


def slot(cluster: RedisCluster, key: str) -> int:
    with cluster.servers[0].client() as conn:
        return int(conn.execute_command("CLUSTER", "KEYSLOT", key))


async def test_a_gateways_keys_share_one_slot(redis_cluster: RedisCluster) -> None:
    """Entries and index of one gateway hash to one slot; another gateway may land elsewhere."""
    settings = cluster_settings(redis_cluster, key_secret="k" * 16)
    backend = make_redis_backend(settings)
    now = time.time()
    await backend.put_many(
        [
            entry("gw-1", "a", now=now),
            entry("gw-1", "b", now=now),
            entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
        ],
        now=now,
    )
    await backend.aclose()
    keys = backend.keys
    gateway_keys = [
        keys.entry_key(CacheType.TOOLS, "gw-1", "a"),
        keys.entry_key(CacheType.TOOLS, "gw-1", "b"),
        keys.entry_key(CacheType.GATEWAY_CONFIG, "gw-1", None),
        keys.index_key("gw-1"),
    ]
    assert set(gateway_keys) <= set(all_keys(redis_cluster))
    assert len({slot(redis_cluster, k) for k in gateway_keys}) == 1


async def test_cache_works_across_the_cluster(redis_cluster: RedisCluster) -> None:
    """Puts, reads, status and clears over many gateways spread over three masters."""
    gateways = tuple(gateway(f"gw-{i}", ("a", "b")) for i in range(12))
    cfg = config(cluster_settings(redis_cluster), gateways)
    async with open_cache(cfg) as cache:
        await cache.put_many([entry(g.id, s) for g in gateways for s in ("a", "b")])
    masters_used = 0
    for server in redis_cluster.servers:
        with server.client() as conn:
            masters_used += conn.dbsize() > 0
    assert masters_used >= 2  # the data really is spread
    async with open_cache(cfg) as cache:
        assert await cache.get(CacheType.TOOLS, "gw-7", "b") is not None
        glob = (await cache.status(gateways[3]))["cache_status"]["global"]
        assert (glob["total_gateways"], glob["total_tool_caches"], glob["health"]) == (12, 24, "ok")
        assert (await cache.clear("gw-3"))["message"].startswith("Cache cleared for all servers (2")
        result = await cache.clear()
    assert result["message"] == (
        "Cache cleared for all gateways (11 gateways): 22 servers and 0 gateway configs"
    )
    assert all_keys(redis_cluster) == ["mcpd:v1:clears"]  # the clears, kept for resyncs


async def test_enkrypt_layout_on_a_cluster(redis_cluster: RedisCluster) -> None:
    """The Enkrypt keys (MD5 names, any slot) are written and cleared on a cluster too."""
    cfg = config(cluster_settings(redis_cluster, enkrypt_compat=True), (gateway("gw-1", ("a",)),))
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "a", tools=2)])
        key = hashlib.md5(b"gw-1-a-tools").hexdigest()
        host, port = redis_cluster.nodes[0]
        with ClusterClient(host=host, port=port) as conn:
            assert len(json.loads(conn.get(key))["tools"]) == 2
        await cache.clear("gw-1", "a")
    assert not any(k == key for k in all_keys(redis_cluster))


async def test_leases_and_events_work_on_a_cluster(redis_cluster: RedisCluster) -> None:
    """On a cluster: one lease holder, safe release by script, and an update reaching the other
    daemon's memory (its listener subscribed through the cluster client)."""
    cfg = config(cluster_settings(redis_cluster), (gateway("gw-1", ("a",)),))
    async with open_cache(cfg, listen=True) as a, open_cache(cfg, listen=True) as b:
        lease = await coordinator_for(a).try_acquire("gw-1", "a", 30)
        assert lease is not None and not lease.degraded
        assert await coordinator_for(b).try_acquire("gw-1", "a", 30) is None
        assert await lease.release() and not await lease.release()
        now = time.time()
        await a.put_many([entry("gw-1", "a", now=now - 5, tools=1)])
        assert await b.get(CacheType.TOOLS, "gw-1", "a") is not None
        await a.put_many([entry("gw-1", "a", now=now, tools=4)])
        await eventually(lambda: _tools(b.lookup(CacheType.TOOLS, "gw-1", "a")) == 4, within=10)


def _tools(found: CacheEntry | None) -> int | None:
    return None if found is None else len(found.catalog.tools)
