"""The Redis backend against real redis-server processes: URLs, auth, layout, faults."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest
from tests.cache.builders import (
    HOUR,
    config,
    entry,
    full_entry,
    gateway,
    make_redis_backend,
    redis_settings,
)
from tests.cache.counting import CountingConnection
from tests.cache.redis_servers import RedisFactory, RedisServer, RedisTlsFactory

from mcp_discoveryd.cache import CacheStats, codec, open_cache
from mcp_discoveryd.cache.redis import MAX_CONNECTIONS, RedisConnection
from mcp_discoveryd.config.settings import CacheSettings
from mcp_discoveryd.errors import CacheUnavailableError
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.redis

GATEWAY_ID = "user-4711_project-0815_config-42"
MASTER_PW = "master-pw-0001"
SENTINEL_PW = "sentinel-pw-0002"
API_KEY = "sk-live-7f3c9a0e5b1d4c2a8e6f"


def _keys(server: RedisServer, db: int = 0) -> list[str]:
    """Every key name in one database (a SCAN, as an operator would)."""
    with server.client(db=db) as conn:
        return sorted(k.decode() for k in conn.scan_iter(count=1000))


async def _roundtrip(settings: CacheSettings, **options: Any) -> None:
    """Write an entry through a fresh backend and read it back through another."""
    now = time.time()
    stored = full_entry(now)
    writer = make_redis_backend(settings, **options)
    try:
        await writer.put_many([stored], now=now)
    finally:
        await writer.aclose()
    reader = make_redis_backend(settings, **options)
    try:
        assert await reader.get(CacheType.TOOLS, "gw-1", "server-a", now=now) == stored
    finally:
        await reader.aclose()


async def test_tcp_url(redis_server: RedisServer) -> None:
    """redis://host:port/0 works end to end."""
    await _roundtrip(redis_settings(redis_server.url))


async def test_unix_socket_url(redis_server: RedisServer) -> None:
    """unix:///path/redis.sock?db=0 works end to end."""
    await _roundtrip(redis_settings(redis_server.unix_url))


async def test_database_number_is_honoured(redis_server: RedisServer) -> None:
    """A URL naming database 3 writes there and nowhere else."""
    await _roundtrip(redis_settings(redis_server.url_for(db=3)))
    assert _keys(redis_server, db=3)
    assert not _keys(redis_server, db=0)


async def test_acl_user_and_password_in_url(redis_factory: RedisFactory) -> None:
    """An ACL user with its password in the URL gets in (the default user is off)."""
    server = redis_factory(acl_user="discoveryd", acl_password="p@ss:w/rd")
    await _roundtrip(redis_settings(server.url_for(username="discoveryd", password="p@ss:w/rd")))


async def test_password_from_settings(redis_factory: RedisFactory) -> None:
    """A password given in the settings (not the URL) authenticates the default user."""
    server = redis_factory(password="from-settings-1")
    await _roundtrip(redis_settings(server.url, password="from-settings-1"))


async def test_tls_url(redis_tls_factory: RedisTlsFactory) -> None:
    """rediss:// with the CA named in the URL's query works end to end."""
    server = redis_tls_factory()
    await _roundtrip(redis_settings(f"{server.url}?ssl_ca_certs={server.ca_path}"))


async def test_wrong_password_degrades_without_leaking_it(redis_factory: RedisFactory) -> None:
    """A wrong password starts the cache degraded, says why, and shows the password nowhere."""
    server = redis_factory(password="right-password")
    settings = redis_settings(server.url_for(password="WRONG-pa55word"))
    async with open_cache(config(settings)) as cache:
        await cache.put_many([entry()])
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") is not None  # from memory
        status = await cache.status(gateway())
    glob = status["cache_status"]["global"]
    assert glob["health"] == "degraded"
    assert "authentication failed" in glob["degraded"]["reason"]
    assert "WRONG-pa55word" not in json.dumps(status)
    assert not _keys(server)


@pytest.mark.parametrize("where", ["password", "url", "sentinel_password"])
async def test_redis_error_text_is_scrubbed_of_every_configured_password(
    redis_factory: RedisFactory, where: str
) -> None:
    """An error Redis sends back quoting a configured password shows it masked.

    The master's (in the settings or the URL) and the sentinels' own alike: redis-py's
    messages are upstream text, scrubbed where the error is built.
    """
    server = redis_factory(password=MASTER_PW)
    if where == "url":
        settings = redis_settings(server.url_for(password=MASTER_PW))
    else:
        settings = redis_settings(server.url, password=MASTER_PW, sentinel_password=SENTINEL_PW)
    quoted = SENTINEL_PW if where == "sentinel_password" else MASTER_PW
    connection = RedisConnection.from_settings(settings, stats=CacheStats())
    try:
        with pytest.raises(CacheUnavailableError) as caught:
            await connection.call("probe", "NO-SUCH-COMMAND", quoted)  # Redis echoes its args
    finally:
        await connection.aclose()
    assert "NO-SUCH-COMMAND" in str(caught.value) and "***" in str(caught.value)
    assert quoted not in str(caught.value)


async def test_no_identifier_or_api_key_in_any_key_name(redis_server: RedisServer) -> None:
    """After writing (ours and the Enkrypt layout), SCAN finds no gateway id, cache id or API key."""
    cache_id = "user-4711_project-0815_config-42"
    gw = gateway(GATEWAY_ID, ("github", "jira"))
    settings = redis_settings(redis_server.url, key_secret="k" * 16, enkrypt_compat=True)
    cfg = config(settings, (gw,))
    async with open_cache(cfg) as cache:
        config_entry = entry(GATEWAY_ID, None, cache_type=CacheType.GATEWAY_CONFIG)
        await cache.put_many([entry(GATEWAY_ID, "github"), entry(GATEWAY_ID, "jira"), config_entry])
        await cache.status(gw)
    names = _keys(redis_server)
    assert len(names) >= 8
    for name in names:
        for raw in (GATEWAY_ID, cache_id, API_KEY, "user-4711", "project-0815"):
            assert raw not in name, name


async def test_redis_ttl_is_time_to_stale_until(redis_server: RedisServer) -> None:
    """An entry's Redis TTL ends at its stale_until, not at expires_at."""
    backend = make_redis_backend(redis_settings(redis_server.url))
    now = time.time()
    e = entry(now=now, ttl=600, grace=300)
    await backend.put_many([e], now=now)
    await backend.aclose()
    key = backend.keys.entry_key(CacheType.TOOLS, "gw-1", "server-a")
    with redis_server.client() as conn:
        pttl = conn.pttl(key)
        index_ttl = conn.pttl(backend.keys.index_key("gw-1"))
    assert 899_000 <= pttl <= 900_000
    assert index_ttl >= 24 * HOUR * 1000  # the index outlives the longest entry lifetime


async def test_status_and_clear_use_no_keys_or_scan(redis_server: RedisServer) -> None:
    """Status and clear work from the index structures: Redis never sees KEYS or SCAN."""
    gw = gateway("gw-1", tuple(f"s{i}" for i in range(20)))
    async with open_cache(config(redis_settings(redis_server.url), (gw,))) as cache:
        await cache.put_many([entry("gw-1", f"s{i}") for i in range(20)])
        with redis_server.client() as conn:
            conn.config_resetstat()
        await cache.status(gw)
        await cache.status(None)
        await cache.clear("gw-1", "s3")
        await cache.clear("gw-1", cache_type="tools")
        await cache.clear()
    with redis_server.client() as conn:
        used = {name.removeprefix("cmdstat_") for name in conn.info("commandstats")}
    assert used and not used & {"keys", "scan"}


async def test_status_round_trips_do_not_grow_with_entries(redis_server: RedisServer) -> None:
    """Status costs one round trip for 10 servers and for 300."""
    costs = []
    for count in (10, 300):
        gw = gateway(f"gw-{count}", tuple(f"s{i}" for i in range(count)))
        settings = redis_settings(redis_server.url)
        async with open_cache(
            config(settings, (gw,)), connection_class=CountingConnection
        ) as cache:
            await cache.put_many([entry(gw.id, f"s{i}", tools=1) for i in range(count)])
            before = CountingConnection.sends
            status = await cache.status(gw)
            costs.append(CountingConnection.sends - before)
        assert status["cache_status"]["gateway_specific"]["tools"]["server_count"] == count
    assert costs == [1, 1]


@pytest.mark.parametrize(
    "stored",
    [b"\x00\x01 not json", b'{"v": 99, "type": "tools"}', b"[]"],
    ids=["corrupt", "foreign-version", "wrong-shape"],
)
async def test_undecodable_entry_is_a_miss_and_reported(
    redis_server: RedisServer, stored: bytes
) -> None:
    """A corrupt or foreign-version value reads as a miss, is counted, and crashes nothing."""
    settings = redis_settings(redis_server.url)
    stats = CacheStats()
    async with open_cache(config(settings), stats=stats) as cache:
        await cache.put_many([entry()])
    backend = make_redis_backend(settings)
    with redis_server.client() as conn:
        conn.set(backend.keys.entry_key(CacheType.TOOLS, "gw-1", "server-a"), stored)
    await backend.aclose()
    async with open_cache(config(settings), stats=stats) as cache:
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") is None
        status = await cache.status(gateway())
    assert stats.snapshot().decode_errors == 1
    assert stats.snapshot().results()["miss"] == 1
    assert status["cache_status"]["global"]["decode_errors"] == 1
    assert status["cache_status"]["global"]["health"] == "ok"


async def test_entry_under_another_identity_is_refused(redis_server: RedisServer) -> None:
    """A value copied to another server's key is not served as that server's catalog."""
    backend = make_redis_backend(redis_settings(redis_server.url))
    now = time.time()
    await backend.put_many([entry(server_name="a", now=now)], now=now)
    with redis_server.client() as conn:
        value = conn.get(backend.keys.entry_key(CacheType.TOOLS, "gw-1", "a"))
        conn.set(backend.keys.entry_key(CacheType.TOOLS, "gw-1", "b"), value)
    assert await backend.get(CacheType.TOOLS, "gw-1", "b", now=now) is None
    await backend.aclose()


async def test_unchanged_bytes_are_not_decoded_twice(redis_server: RedisServer) -> None:
    """Two reads of an unchanged value give the same object; a new value gives a new one."""
    backend = make_redis_backend(redis_settings(redis_server.url))
    now = time.time()
    await backend.put_many([entry(now=now)], now=now)
    first = await backend.get(CacheType.TOOLS, "gw-1", "server-a", now=now)
    second = await backend.get(CacheType.TOOLS, "gw-1", "server-a", now=now)
    assert first is not None and first is second
    await backend.put_many([entry(now=now, tools=1)], now=now)
    third = await backend.get(CacheType.TOOLS, "gw-1", "server-a", now=now)
    assert third is not None and third is not first and len(third.catalog.tools) == 1
    await backend.aclose()


async def test_private_entry_never_reaches_redis(redis_server: RedisServer) -> None:
    """An entry with a private cache-scope hint stays in memory only."""
    async with open_cache(config(redis_settings(redis_server.url))) as cache:
        await cache.put_many([entry(private=True)])
        assert await cache.get(CacheType.TOOLS, "gw-1", "server-a") is not None
    assert not _keys(redis_server)


async def test_evicted_entries_read_as_misses_and_status_agrees(
    redis_factory: RedisFactory,
) -> None:
    """Under maxmemory with LRU eviction, evicted entries are misses and status says not cached."""
    server = redis_factory(maxmemory="3mb", maxmemory_policy="allkeys-lru")
    names = tuple(f"s{i}" for i in range(120))
    gw = gateway("gw-1", names)
    settings = redis_settings(server.url)
    big = [entry("gw-1", n, tools=40) for n in names]  # ~30 KB each: far past 3 MB
    backend = make_redis_backend(settings)
    for start in range(0, len(big), 10):
        await backend.put_many(big[start : start + 10], now=time.time())
    await backend.aclose()
    with server.client() as conn:
        assert int(conn.info("stats")["evicted_keys"]) > 0
    async with open_cache(config(settings, (gw,))) as cache:
        found = {n: await cache.get(CacheType.TOOLS, "gw-1", n) for n in names}
        status = await cache.status(gw)
    servers = status["cache_status"]["gateway_specific"]["tools"]["servers"]
    missing = [n for n, e in found.items() if e is None]
    assert missing  # something was evicted
    for name, e in found.items():
        assert e is None or e == big[names.index(name)]
        if e is None:
            assert servers[name]["exists"] is False


async def test_compat_layout_is_cleared_with_our_entries(redis_server: RedisServer) -> None:
    """Clearing a gateway removes its Enkrypt-layout keys too."""
    settings = redis_settings(redis_server.url, enkrypt_compat=True)
    gw = gateway("gw-1", ("a", "b"))
    async with open_cache(config(settings, (gw,))) as cache:
        await cache.put_many([entry("gw-1", "a"), entry("gw-1", "b")])
        assert len(_keys(redis_server)) > 4
        result = await cache.clear("gw-1")
    assert result["status"] == "success"
    assert _keys(redis_server) == ["mcpd:v1:clears"]  # the clear itself, kept for resyncs


async def test_codec_bytes_are_what_redis_holds(redis_server: RedisServer) -> None:
    """The value in Redis is exactly the codec's encoding (one shape in memory and Redis)."""
    backend = make_redis_backend(redis_settings(redis_server.url))
    now = time.time()
    e = full_entry(now)
    await backend.put_many([e], now=now)
    await backend.aclose()
    with redis_server.client() as conn:
        assert conn.get(
            backend.keys.entry_key(CacheType.TOOLS, "gw-1", "server-a")
        ) == codec.encode(e)


async def test_more_concurrent_commands_than_pooled_connections_wait_and_never_read_as_down(
    redis_server: RedisServer,
) -> None:
    cfg = config(redis_settings(redis_server.url), (gateway("gw-1", ("server-a",)),))
    async with open_cache(cfg) as cache:
        async with anyio.create_task_group() as tg:  # hundreds of actors reading at once
            for _ in range(MAX_CONNECTIONS * 5):
                tg.start_soon(cache.get, CacheType.TOOLS, "gw-1", "server-a")
        assert cache.health.ok
