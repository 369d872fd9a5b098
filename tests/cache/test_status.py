"""Status and clear: Enkrypt's shapes and messages, our own fields, live UTC times."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from tests.cache.builders import HOUR, config, entry, gateway
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import Cache, open_cache
from mcp_discoveryd.cache.status import clear_scope, iso_utc
from mcp_discoveryd.config.settings import CacheSettings, GatewayConfig
from mcp_discoveryd.models import CacheType, ServerSpec, StdioTarget
from mcp_discoveryd.secret import SecretUrl

SERVER_FIELDS = {
    "tool_count",
    "error",
    "are_tools_explicitly_defined",
    "needs_discovery",
    "exists",
    "expires_at",
    "expires_in_hours",
    "is_expired",
}
GLOBAL_FIELDS = {
    "total_gateways",
    "total_tool_caches",
    "total_config_caches",
    "tool_cache_expiration_hours",
    "config_cache_expiration_hours",
    "cache_type",
}
OUR_GLOBAL_FIELDS = {"backend", "health", "requests", "entries", "bytes", "next_refresh_at"}


def the_gateway() -> GatewayConfig:
    """gw-1 with two discovered servers, one config-defined server and one never cached."""
    gw = gateway("gw-1", ("a", "b", "never"))
    fixed = ServerSpec(
        name="fixed", target=StdioTarget(command="true"), tools=({"name": "x"}, {"name": "y"})
    )
    return replace(gw, servers=(*gw.servers, fixed))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest) -> CacheSettings:
    """Memory or Redis, with 2 h tools and 12 h config TTLs."""
    base = CacheSettings(tool_ttl=2 * HOUR, config_ttl=12 * HOUR)
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return replace(base, backend="redis", url=SecretUrl(server.url))
    return base


@asynccontextmanager
async def opened(settings: CacheSettings) -> AsyncIterator[Cache]:
    """The cache for gw-1 and gw-2 (opened in the test's own task: it runs a task group)."""
    async with open_cache(config(settings, (the_gateway(), gateway("gw-2")))) as cache:
        yield cache


def parse_utc(text: str) -> float:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


async def test_status_has_enkrypt_shape_and_our_fields(settings: CacheSettings) -> None:
    """Every field Enkrypt returns is there, plus backend, health, counts, entries, bytes."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [
                entry("gw-1", "a", now=now),
                entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            ]
        )
        status = await cache.status(the_gateway())
        assert status["status"] == "success"
        body = status["cache_status"]
        assert set(body) == {"gateway_specific", "global"}
        assert GLOBAL_FIELDS | OUR_GLOBAL_FIELDS <= set(body["global"])
        specific = body["gateway_specific"]
        assert {"exists", "expires_at", "expires_in_hours", "is_expired"} <= set(specific["config"])
        assert specific["tools"]["server_count"] == 4
        assert set(specific["tools"]["servers"]) == {"a", "b", "never", "fixed"}
        for fields in specific["tools"]["servers"].values():
            assert SERVER_FIELDS <= set(fields)


async def test_times_are_real_utc_from_the_entries(settings: CacheSettings) -> None:
    """expires_at is the entry's own expiry in ISO 8601 UTC, and expires_in_hours is live."""
    async with opened(settings) as cache:
        now = time.time()
        e = entry("gw-1", "a", fetched_at=now - 1800, now=now, ttl=2 * HOUR)  # 1.5 h left
        await cache.put_many([e])
        server = (await cache.status(the_gateway()))["cache_status"]["gateway_specific"]["tools"][
            "servers"
        ]["a"]
        assert parse_utc(server["expires_at"]) == pytest.approx(e.expires_at, abs=0.001)
        assert server["expires_in_hours"] == pytest.approx(1.5, abs=0.01)
        assert server["is_expired"] is False and server["exists"] is True
        assert parse_utc(server["fetched_at"]) == pytest.approx(e.fetched_at, abs=0.001)


async def test_expiry_figures_follow_the_settings(settings: CacheSettings) -> None:
    """The global expiration hours are the configured TTLs, not Enkrypt's constants."""
    async with opened(settings) as cache:
        glob = (await cache.status(None))["cache_status"]["global"]
        assert glob["tool_cache_expiration_hours"] == 2.0
        assert glob["config_cache_expiration_hours"] == 12.0


async def test_stale_and_missing_and_config_defined_servers(settings: CacheSettings) -> None:
    """Stale: expired but served; never cached: needs discovery; config tools: no discovery."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [entry("gw-1", "b", fetched_at=now - 2.5 * HOUR, now=now, ttl=2 * HOUR)]
        )
        servers = (await cache.status(the_gateway()))["cache_status"]["gateway_specific"]["tools"][
            "servers"
        ]
        stale = servers["b"]
        assert (
            stale["exists"]
            and stale["is_expired"]
            and stale["is_stale"]
            and stale["needs_discovery"]
        )
        assert stale["expires_in_hours"] == pytest.approx(-0.5, abs=0.01)
        never = servers["never"]
        assert never == {
            **never,
            "exists": False,
            "is_expired": True,
            "needs_discovery": True,
            "expires_at": None,
        }
        fixed = servers["fixed"]
        assert fixed["are_tools_explicitly_defined"] and not fixed["needs_discovery"]
        assert fixed["tool_count"] == 2


async def test_global_counts_and_request_counters(settings: CacheSettings) -> None:
    """Totals count live entries over all gateways; gets are counted as hit, stale and miss."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [
                entry("gw-1", "a", now=now),
                entry("gw-1", "b", fetched_at=now - 2.5 * HOUR, now=now, ttl=2 * HOUR),
                entry("gw-2", "server-a", now=now),
                entry("gw-2", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            ]
        )
        await cache.get(CacheType.TOOLS, "gw-1", "a")
        await cache.get(CacheType.TOOLS, "gw-1", "b")
        await cache.get(CacheType.TOOLS, "gw-1", "never")
        glob = (await cache.status(None))["cache_status"]["global"]
        assert (glob["total_gateways"], glob["total_tool_caches"], glob["total_config_caches"]) == (
            2,
            3,
            1,
        )
        assert glob["entries"] == 4
        assert glob["requests"] == {"hit": 1, "stale": 1, "miss": 1}
        assert glob["health"] == "ok"
        assert glob["bytes"] > 0
        assert glob["cache_type"] == ("local" if cache.backend == "memory" else "external_cache")
        assert parse_utc(glob["next_refresh_at"]) < now + 2 * HOUR


async def test_status_without_a_gateway_has_only_global(settings: CacheSettings) -> None:
    """With no gateway asked for, gateway_specific is null."""
    async with opened(settings) as cache:
        assert (await cache.status(None))["cache_status"]["gateway_specific"] is None


async def test_clear_all_of_a_gateway_message(settings: CacheSettings) -> None:
    """cache_type None or "all": tools of every server and the config, in Enkrypt's words."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [
                entry("gw-1", "a", now=now),
                entry("gw-1", "b", now=now),
                entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            ]
        )
        assert await cache.clear("gw-1", cache_type="all") == {
            "status": "success",
            "message": "Cache cleared for all servers (2 servers) and gateway config (cleared)",
        }
        assert await cache.clear("gw-1") == {
            "status": "success",
            "message": "Cache cleared for all servers (0 servers) and gateway config (none)",
        }


@pytest.mark.parametrize(
    "alias", ["gateway_config", "gateway", "gateway_cache", "gateway_config_cache"]
)
async def test_clear_gateway_config_aliases(settings: CacheSettings, alias: str) -> None:
    """Every Enkrypt alias for the config clears only the config."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [
                entry("gw-1", "a", now=now),
                entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            ]
        )
        assert await cache.clear("gw-1", cache_type=alias) == {
            "status": "success",
            "message": "Gateway config cache cleared for gw-1",
        }
        assert await cache.get(CacheType.TOOLS, "gw-1", "a") is not None
        assert await cache.clear("gw-1", cache_type=alias) == {
            "status": "info",
            "message": "No config cache found for gw-1",
        }


@pytest.mark.parametrize("alias", ["server_config", "tools"])
async def test_clear_server_aliases(settings: CacheSettings, alias: str) -> None:
    """ "server_config"/"tools" clear one server, or all servers, and never the config."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many(
            [
                entry("gw-1", "a", now=now),
                entry("gw-1", "b", now=now),
                entry("gw-1", None, now=now, cache_type=CacheType.GATEWAY_CONFIG),
            ]
        )
        assert await cache.clear("gw-1", "a", alias) == {
            "status": "success",
            "message": "Cache cleared for server: a",
        }
        assert await cache.clear("gw-1", "a", alias) == {
            "status": "info",
            "message": "No cache found for server: a",
        }
        assert await cache.clear("gw-1", None, alias) == {
            "status": "success",
            "message": "Cache cleared for all servers (1 servers)",
        }
        assert await cache.get(CacheType.GATEWAY_CONFIG, "gw-1", None) is not None


async def test_clear_naming_a_server_is_never_widened(settings: CacheSettings) -> None:
    """A server name with no cache_type clears only that server (Enkrypt would clear all)."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many([entry("gw-1", "a", now=now), entry("gw-1", "b", now=now)])
        assert (await cache.clear("gw-1", "a"))["message"] == "Cache cleared for server: a"
        assert await cache.get(CacheType.TOOLS, "gw-1", "b") is not None


async def test_clear_every_gateway(settings: CacheSettings) -> None:
    """No gateway: everything everywhere, counted per gateway."""
    async with opened(settings) as cache:
        now = time.time()
        await cache.put_many([entry("gw-1", "a", now=now), entry("gw-2", "server-a", now=now)])
        assert await cache.clear() == {
            "status": "success",
            "message": "Cache cleared for all gateways (2 gateways): 2 servers and 0 gateway configs",
        }


async def test_unknown_cache_type_is_an_error(settings: CacheSettings) -> None:
    """An unknown cache_type is refused with the accepted values listed; nothing is cleared."""
    async with opened(settings) as cache:
        await cache.put_many([entry("gw-1", "a")])
        result = await cache.clear("gw-1", cache_type="everything")
        assert result["status"] == "error"
        assert "gateway_config" in result["message"] and "server_config" in result["message"]
        assert await cache.get(CacheType.TOOLS, "gw-1", "a") is not None


def test_cache_type_enum_is_accepted() -> None:
    """CacheType values work as cache_type, like their string names."""
    assert clear_scope("g", None, CacheType.GATEWAY_CONFIG).types == {CacheType.GATEWAY_CONFIG}
    assert clear_scope("g", "s", CacheType.TOOLS).server_name == "s"
    assert clear_scope("g", "s", "ALL").types == set(CacheType)


FIRST_TIME = datetime(1, 1, 1, tzinfo=UTC).timestamp()  # -6.2e10: not the mirror of the last
LAST_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC).timestamp()


@given(st.none() | st.floats() | st.integers(min_value=-(10**20), max_value=10**20))
@example(-62_135_596_801)  # a second before year 1: None, though far below 2.5e11 in size
@example(253_400_000_000.68)  # year 9999: .68 truncated to .679, a float's hair over 1 ms
def test_any_time_is_an_iso_string_or_none_never_an_error(ts: float | None) -> None:
    text = iso_utc(ts)
    if text is not None:
        assert text.endswith("Z")
        # milliseconds, truncated; and a float's own rounding (3e-5 s at year 9999)
        assert datetime.fromisoformat(text).timestamp() == pytest.approx(ts, abs=0.0011)
    else:  # only what has no calendar date: None, inf, nan, after year 9999 or before 1
        # (a second's margin at each end: microsecond rounding may cross it)
        assert ts is None or not math.isfinite(ts) or not FIRST_TIME + 1 < ts < LAST_TIME - 1
