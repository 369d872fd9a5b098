"""The Enkrypt-compatible writer: keys, values and TTLs exactly as Secure MCP Gateway reads them."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace

import pytest
from tests.cache.builders import HOUR, config, entry, gateway, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import EnkryptCompat, compat_enabled, open_cache
from mcp_discoveryd.config.settings import CacheSettings, GatewayConfig
from mcp_discoveryd.models import CacheType

CACHE_IDS = ("u1_p1_cfg", "u2_p1_cfg")


def md5(raw: str) -> str:
    return hashlib.md5(raw.encode()).hexdigest()


def with_ids(gw: GatewayConfig) -> GatewayConfig:
    return replace(gw, cache_ids=CACHE_IDS)


def test_key_names_are_md5_of_the_documented_strings() -> None:
    """Tools, config and registry keys are the MD5 hex of Enkrypt's raw strings."""
    from mcp_discoveryd.cache import compat_enkrypt as ce

    assert ce.tools_key("u1_p1_cfg", "github") == md5("u1_p1_cfg-github-tools")
    assert ce.config_key("u1_p1_cfg") == md5("u1_p1_cfg-mcp-config")
    assert ce.servers_registry_key("u1_p1_cfg") == md5("registry:u1_p1_cfg:servers")
    assert ce.global_registry_key() == md5("registry:gateway/user")


def test_write_covers_every_cache_id() -> None:
    """One entry is published under each of its gateway's Enkrypt cache ids, with registries."""
    now = time.time()
    e = entry("gw-1", "github", now=now, ttl=2 * HOUR)
    commands = EnkryptCompat({"gw-1": CACHE_IDS}).write(e, now=now)
    setex = [c for c in commands if c[0] == "SETEX"]
    assert [c[1] for c in setex] == [md5(f"{cid}-github-tools") for cid in CACHE_IDS]
    assert all(c[2] == 2 * HOUR for c in setex)
    assert ("SADD", md5("registry:u1_p1_cfg:servers"), "github") in commands
    assert ("SADD", md5("registry:gateway/user"), "u2_p1_cfg") in commands


def test_value_keeps_only_name_description_and_input_schema() -> None:
    """The value is {"tools": [{name, description, inputSchema}]}, nothing more."""
    now = time.time()
    e = entry(now=now, tools=2)
    value = json.loads(str(EnkryptCompat({}).write(e, now=now)[0][3]))
    assert list(value) == ["tools"]
    assert [sorted(t) for t in value["tools"]] == [["description", "inputSchema", "name"]] * 2
    assert value["tools"][0]["inputSchema"] == e.catalog.tools[0]["inputSchema"]


def test_ttl_is_the_time_left_to_expiry() -> None:
    """The Enkrypt copy expires when our entry expires (that gateway serves nothing stale)."""
    now = time.time()
    e = entry(now=now - 600, ttl=HOUR)
    assert EnkryptCompat({}).write(e, now=now)[0][2] == pytest.approx(3000, abs=1)


@pytest.mark.parametrize(
    "kind",
    ["private", "stale", "config"],
)
def test_nothing_written_for_private_stale_or_config_entries(kind: str) -> None:
    """Private, already expired and gateway-config entries are not published."""
    now = time.time()
    e = {
        "private": entry(now=now, private=True),
        "stale": entry(now=now - 2 * HOUR, ttl=HOUR, grace=2 * HOUR),
        "config": entry(now=now, cache_type=CacheType.GATEWAY_CONFIG),
    }[kind]
    assert EnkryptCompat({}).write(e, now=now) == []


def test_unknown_gateway_uses_its_own_id() -> None:
    """A gateway without cache ids is published under its own id."""
    now = time.time()
    commands = EnkryptCompat({}).write(entry("plain", "s", now=now), now=now)
    assert commands[0][1] == md5("plain-s-tools")


@pytest.mark.parametrize(
    ("fmt", "backend", "switch", "expected"),
    [
        ("enkrypt", "redis", None, True),
        ("enkrypt", "memory", None, False),
        ("toml", "redis", None, False),
        ("enkrypt", "redis", False, False),
        ("toml", "redis", True, True),
    ],
)
def test_on_by_default_only_for_enkrypt_with_external_cache(
    fmt: str, backend: str, switch: bool | None, expected: bool
) -> None:
    """Default on for an Enkrypt config using Redis, off otherwise; the switch wins both ways."""
    settings = CacheSettings(backend=backend, url="redis://x" if backend == "redis" else None)  # type: ignore[arg-type]  # Literal from a param
    settings = replace(settings, enkrypt_compat=switch)
    assert compat_enabled(config(settings, fmt=fmt)) is expected


@pytest.mark.redis
async def test_secure_mcp_gateway_finds_its_cache_preloaded(redis_server: RedisServer) -> None:
    """After a put, reading Redis as that gateway does (MD5 keys, JSON) finds tools and registries."""
    gw = with_ids(gateway("gw-1", ("github",)))
    settings = redis_settings(redis_server.url)
    cfg = config(settings, (gw,), fmt="enkrypt")
    stored = entry("gw-1", "github", tools=4)
    async with open_cache(cfg) as cache:
        await cache.put_many([stored])
    with redis_server.client() as conn:
        for cid in CACHE_IDS:
            raw = conn.get(md5(f"{cid}-github-tools"))
            assert raw is not None
            tools = json.loads(raw)["tools"]
            assert [t["name"] for t in tools] == [t["name"] for t in stored.catalog.tools]
            assert 0 < conn.ttl(md5(f"{cid}-github-tools")) <= 4 * HOUR
            assert conn.smembers(md5(f"registry:{cid}:servers")) == {b"github"}
        assert conn.smembers(md5("registry:gateway/user")) == {c.encode() for c in CACHE_IDS}


@pytest.mark.redis
async def test_clearing_one_server_removes_its_enkrypt_copy(redis_server: RedisServer) -> None:
    """A server clear deletes that server's MD5 keys and its registry membership only."""
    gw = with_ids(gateway("gw-1", ("github", "jira")))
    cfg = config(redis_settings(redis_server.url), (gw,), fmt="enkrypt")
    async with open_cache(cfg) as cache:
        await cache.put_many([entry("gw-1", "github"), entry("gw-1", "jira")])
        assert (await cache.clear("gw-1", "github"))["status"] == "success"
    with redis_server.client() as conn:
        for cid in CACHE_IDS:
            assert conn.get(md5(f"{cid}-github-tools")) is None
            assert conn.get(md5(f"{cid}-jira-tools")) is not None
            assert conn.smembers(md5(f"registry:{cid}:servers")) == {b"jira"}


@pytest.mark.redis
async def test_compat_off_writes_no_enkrypt_keys(redis_server: RedisServer) -> None:
    """With the writer off (a TOML config by default), only our own namespace is written."""
    async with open_cache(config(redis_settings(redis_server.url))) as cache:
        await cache.put_many([entry()])
    with redis_server.client() as conn:
        assert all(k.startswith(b"mcpd:v1:") for k in conn.scan_iter())
