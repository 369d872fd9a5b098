"""One contract, every backend: memory, Redis, and Redis Cluster behave the same."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from tests.cache.builders import entry, full_entry, make_redis_backend, redis_settings
from tests.cache.redis_servers import RedisServer
from tests.cache.redis_topologies import RedisCluster

from mcp_discoveryd.cache import ClearScope, MemoryBackend, RedisBackend
from mcp_discoveryd.cache.base import Backend
from mcp_discoveryd.config.settings import CacheSettings
from mcp_discoveryd.models import CacheEntry, CacheType
from mcp_discoveryd.secret import SecretUrl

ALL = frozenset(CacheType)
TOOLS = frozenset({CacheType.TOOLS})
CONFIG = frozenset({CacheType.GATEWAY_CONFIG})


async def read(
    backend: Backend, cache_type: CacheType, gateway_id: str, server: str | None, *, now: float
) -> CacheEntry | None:
    """The entry a backend serves for an identity, without its size."""
    found = await backend.fetch(cache_type, gateway_id, server, now=now)
    return found[0] if found is not None else None


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis),
    ]
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each backend, empty."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        settings = redis_settings(server.url, key_secret="contract-key-0001")
    else:
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        settings = CacheSettings(backend="redis", url=SecretUrl(cluster.url), cluster=True)
    remote = make_redis_backend(settings)
    yield remote
    await remote.aclose()


async def test_put_then_get_returns_an_equal_entry(backend: Backend) -> None:
    """What goes in comes out whole: every field, the full catalog."""
    now = time.time()
    stored = full_entry(now)
    await backend.put_many([stored], now=now)
    assert await read(backend, CacheType.TOOLS, "gw-1", "server-a", now=now) == stored


async def test_missing_entry_is_none(backend: Backend) -> None:
    """An identity never stored reads as None."""
    assert await read(backend, CacheType.TOOLS, "gw-1", "nobody", now=time.time()) is None


async def test_tools_and_config_entries_are_separate(backend: Backend) -> None:
    """A gateway's config entry and its servers' tools entries do not overwrite each other."""
    now = time.time()
    tools, config = entry(now=now), entry(now=now, cache_type=CacheType.GATEWAY_CONFIG)
    await backend.put_many([tools, config], now=now)
    assert await read(backend, CacheType.TOOLS, "gw-1", "server-a", now=now) == tools
    assert await read(backend, CacheType.GATEWAY_CONFIG, "gw-1", None, now=now) == config


async def test_put_replaces_the_same_identity(backend: Backend) -> None:
    """A second put for one (gateway, server) replaces the first."""
    now = time.time()
    await backend.put_many([entry(now=now, tools=5)], now=now)
    newer = entry(now=now + 1, tools=2)
    await backend.put_many([newer], now=now + 1)
    assert await read(backend, CacheType.TOOLS, "gw-1", "server-a", now=now + 1) == newer


async def test_stale_entry_is_served_until_stale_until(backend: Backend) -> None:
    """Past expires_at the entry is still returned; past stale_until it is not."""
    now = time.time()
    e = entry(now=now, ttl=60, grace=60)
    await backend.put_many([e], now=now)
    assert await read(backend, CacheType.TOOLS, "gw-1", "server-a", now=now + 90) == e
    assert await read(backend, CacheType.TOOLS, "gw-1", "server-a", now=now + 120) is None


async def test_inspect_counts_live_entries(backend: Backend) -> None:
    """Totals count gateways, tools entries and config entries that are still live."""
    now = time.time()
    await backend.put_many(
        [
            entry("gw-1", "a", now=now),
            entry("gw-1", "b", now=now, ttl=10, grace=10),
            entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            entry("gw-2", "a", now=now),
        ],
        now=now,
    )
    view = await backend.inspect(None, [], now=now)
    assert (view.totals.gateways, view.totals.tool_caches, view.totals.config_caches) == (2, 3, 1)
    later = await backend.inspect(None, [], now=now + 30)  # gw-1/b is past stale_until
    assert later.totals.tool_caches == 2


async def test_inspect_summarises_one_gateway(backend: Backend) -> None:
    """For one gateway, summaries of the named servers and of its config, without catalogs."""
    now = time.time()
    await backend.put_many(
        [
            full_entry(now),
            entry("gw-1", "other", now=now),
            entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            entry("gw-2", "server-a", now=now),
        ],
        now=now,
    )
    view = await backend.inspect("gw-1", ["server-a", "absent"], now=now)
    assert set(view.summaries) == {(CacheType.TOOLS, "server-a"), (CacheType.GATEWAY_CONFIG, None)}
    summary = view.summaries[(CacheType.TOOLS, "server-a")]
    assert summary.tool_count == 3
    assert summary.error == "503 from upstream"
    assert summary.consecutive_failures == 2 and summary.blocked_count == 1
    assert summary.expires_at == full_entry(now).expires_at
    assert summary.size > 0


async def test_clear_one_server(backend: Backend) -> None:
    """Clearing one server's tools leaves its siblings, the config and other gateways."""
    now = time.time()
    await _fill(backend, now)
    counts = await backend.clear(ClearScope("gw-1", "a", TOOLS))
    assert (counts.tool_caches, counts.config_caches) == (1, 0)
    assert await read(backend, CacheType.TOOLS, "gw-1", "a", now=now) is None
    assert await read(backend, CacheType.TOOLS, "gw-1", "b", now=now) is not None
    assert await read(backend, CacheType.GATEWAY_CONFIG, "gw-1", None, now=now) is not None
    assert await read(backend, CacheType.TOOLS, "gw-2", "a", now=now) is not None


async def test_clear_all_tools_of_a_gateway(backend: Backend) -> None:
    """Clearing a gateway's tools removes every server's entry and keeps its config."""
    now = time.time()
    await _fill(backend, now)
    counts = await backend.clear(ClearScope("gw-1", None, TOOLS))
    assert (counts.tool_caches, counts.config_caches) == (2, 0)
    view = await backend.inspect("gw-1", ["a", "b"], now=now)
    assert set(view.summaries) == {(CacheType.GATEWAY_CONFIG, None)}
    assert view.totals.tool_caches == 1  # gw-2's


async def test_clear_gateway_config_only(backend: Backend) -> None:
    """Clearing the config leaves the gateway's tools."""
    now = time.time()
    await _fill(backend, now)
    counts = await backend.clear(ClearScope("gw-1", None, CONFIG))
    assert (counts.tool_caches, counts.config_caches) == (0, 1)
    assert await read(backend, CacheType.GATEWAY_CONFIG, "gw-1", None, now=now) is None
    assert await read(backend, CacheType.TOOLS, "gw-1", "a", now=now) is not None


async def test_clear_everything_of_a_gateway(backend: Backend) -> None:
    """Clearing all of one gateway leaves the other gateway whole and counts what went."""
    now = time.time()
    await _fill(backend, now)
    counts = await backend.clear(ClearScope("gw-1", None, ALL))
    assert (counts.tool_caches, counts.config_caches, counts.gateways) == (2, 1, 1)
    view = await backend.inspect(None, [], now=now)
    assert (view.totals.gateways, view.totals.tool_caches, view.totals.config_caches) == (1, 1, 0)


async def test_clear_every_gateway(backend: Backend) -> None:
    """Clearing with no gateway empties the store."""
    now = time.time()
    await _fill(backend, now)
    counts = await backend.clear(ClearScope(None, None, ALL))
    assert (counts.tool_caches, counts.config_caches, counts.gateways) == (3, 1, 2)
    view = await backend.inspect(None, [], now=now)
    assert (view.totals.gateways, view.totals.tool_caches, view.totals.config_caches) == (0, 0, 0)


async def test_clear_of_nothing_counts_nothing(backend: Backend) -> None:
    """Clearing an absent server removes nothing and says so."""
    counts = await backend.clear(ClearScope("gw-1", "ghost", TOOLS))
    assert (counts.tool_caches, counts.config_caches, counts.gateways) == (0, 0, 0)


async def _fill(backend: Backend, now: float) -> None:
    await backend.put_many(
        [
            entry("gw-1", "a", now=now),
            entry("gw-1", "b", now=now),
            entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            entry("gw-2", "a", now=now),
        ],
        now=now,
    )


def test_redis_backend_satisfies_the_protocol() -> None:
    """RedisBackend and MemoryBackend are both Backends (checked by mypy through this)."""
    backends: list[type[Backend]] = [MemoryBackend, RedisBackend]
    assert len(backends) == 2
