"""Discovery with a cache, memory and Redis: what a run serves from the cache, and what it keeps.

A cached catalog is served only under the server definition it was made from and
after today's tool policy; an expired entry is refreshed, and served stale (with the
failure recorded) when that refresh fails. Redis runs also check a second host: another
cache on the same Redis, with its own config.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from tests.cache.builders import entry, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import Cache, MemoryBackend, open_cache
from mcp_discoveryd.config.settings import (
    CacheSettings,
    DaemonConfig,
    DiscoverySettings,
    GatewayConfig,
)
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import (
    CacheType,
    DiscoveryReport,
    ServerOutcome,
    ServerSpec,
    StdioTarget,
    ToolPolicy,
)
from mcp_discoveryd.secret import Secret

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "daemon" / "examples" / "servers" / "demo_server.py")
HOUR = 3600.0
NOTES_TOOLS = ["list_notes", "read_note", "add_note"]

Host = Callable[[DaemonConfig], AbstractAsyncContextManager[Cache]]


def _config(tmp_path: Path, settings: CacheSettings | None = None) -> tuple[DaemonConfig, Path]:
    script = tmp_path / "broken_later.py"
    flag = tmp_path / "broken"
    # Serves the demo catalog until the flag file exists, then exits at once.
    script.write_text(
        "import os, runpy, sys\n"
        f"if os.path.exists({str(flag)!r}): sys.exit(4)\n"
        f"sys.argv = [{DEMO!r}, 'notes']\n"
        f"runpy.run_path({DEMO!r}, run_name='__main__')\n"
    )
    spec = ServerSpec(name="notes", target=StdioTarget(sys.executable, (str(script),)))
    config = DaemonConfig(
        path="<test>",
        format="toml",
        gateways=(GatewayConfig(id="g", servers=(spec,)),),
        discovery=DiscoverySettings(max_concurrent_spawns=2),
        cache=settings or CacheSettings(),
    )
    return config, flag


def with_spec(config: DaemonConfig, **changes: object) -> DaemonConfig:
    """The same config with the one server's spec changed."""
    (gw,) = config.gateways
    (spec,) = gw.servers
    return replace(config, gateways=(replace(gw, servers=(replace(spec, **changes),)),))  # type: ignore[arg-type]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest) -> CacheSettings:
    """Memory, or a fresh Redis with a key secret."""
    if request.param == "memory":
        return CacheSettings()
    server: RedisServer = request.getfixturevalue("redis_server")
    return redis_settings(server.url, key_secret="fingerprints-key")


@pytest.fixture
def host(settings: CacheSettings) -> Host:
    """Opens "hosts": caches over the same store. Memory is one store per process, so every
    host is the same cache there; over Redis each host is a cache of its own."""
    if settings.backend == "redis":
        return open_cache
    shared = Cache(settings, memory=MemoryBackend())

    @asynccontextmanager
    async def same(_: DaemonConfig) -> AsyncIterator[Cache]:
        yield shared

    return same


async def run(cache: Cache, config: DaemonConfig, *, refresh: bool = False) -> ServerOutcome:
    async with UpstreamClient(config.discovery) as upstream:
        report: DiscoveryReport = await run_discovery(
            config, upstream, cache=cache, refresh=refresh
        )
    (outcome,) = report.outcomes
    return outcome


async def test_second_run_answers_from_cache_unless_refresh(tmp_path: Path) -> None:
    """Run 1 discovers and writes; run 2 is served from the cache; --refresh asks again."""
    config, _ = _config(tmp_path)
    async with open_cache(config) as cache:
        first = await run(cache, config)
        held = await cache.get(CacheType.TOOLS, "g", "notes")
        second = await run(cache, config)
        refreshed = await run(cache, config, refresh=True)
    assert first.source == "discovery"
    assert held is not None and held.source == "discovery"
    assert [t["name"] for t in held.catalog.tools] == NOTES_TOOLS
    assert second.source == "cache" and not second.stale
    assert second.catalog == first.catalog
    assert refreshed.source == "discovery"


async def test_a_run_writes_the_gateway_config_entry(tmp_path: Path) -> None:
    """Status shows the gateway's config as cached once a run covered that gateway."""
    config, _ = _config(tmp_path)
    async with open_cache(config) as cache:
        assert await cache.get(CacheType.GATEWAY_CONFIG, "g", None) is None
        await run(cache, config)
        held = await cache.get(CacheType.GATEWAY_CONFIG, "g", None)
        status = await cache.status(config.gateways[0])
    assert held is not None and held.gateway_config is not None
    assert status["cache_status"]["gateway_specific"]["config"]["exists"] is True


@pytest.mark.parametrize("denied", [("add_note",), ("add_*",), ("add_n?te",)])
async def test_a_policy_change_applies_to_the_cached_catalog_at_once(
    tmp_path: Path, settings: CacheSettings, host: Host, denied: tuple[str, ...]
) -> None:
    """A host whose policy now denies a tool never serves it from a catalog cached before."""
    config, _ = _config(tmp_path, settings)
    strict = with_spec(config, tool_policy=ToolPolicy(denied_tools=denied))
    async with host(config) as first_host:
        first = await run(first_host, config)
    async with host(strict) as second_host:
        served = await run(second_host, strict)
    assert first.source == "discovery" and "add_note" in [t["name"] for t in first.catalog.tools]
    assert served.source == "cache"
    assert [t["name"] for t in served.catalog.tools] == ["list_notes", "read_note"]
    assert [b.name for b in served.blocked_tools] == ["add_note"]


async def test_a_looser_policy_never_serves_a_catalog_missing_the_tools_it_allows(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """Tools blocked under the old policy are not in the cached catalog: the entry is a miss."""
    config, _ = _config(tmp_path, settings)
    strict = with_spec(config, tool_policy=ToolPolicy(denied_tools=("add_note",)))
    async with host(strict) as first_host:
        first = await run(first_host, strict)
        again = await run(first_host, strict)
    async with host(config) as second_host:
        served = await run(second_host, config)
    assert [b.name for b in first.blocked_tools] == ["add_note"]
    assert again.source == "cache"  # the same policy serves it
    assert served.source == "discovery" and not served.blocked_tools
    assert [t["name"] for t in served.catalog.tools] == NOTES_TOOLS


@pytest.mark.parametrize(
    "change",
    [
        {"args": ("--another",)},
        {"command": "/usr/bin/python3"},
        {"cwd": "/tmp"},
        {"env": {"NEW_NAME": "x"}},
    ],
    ids=["args", "command", "cwd", "env-name"],
)
async def test_another_server_definition_is_a_miss(
    tmp_path: Path, settings: CacheSettings, host: Host, change: dict[str, object]
) -> None:
    """Pointing the server elsewhere never serves the old server's catalog from the cache."""
    config, _ = _config(tmp_path, settings)
    (spec,) = config.gateways[0].servers
    assert isinstance(spec.target, StdioTarget)
    if "args" in change:
        change = {"args": spec.target.args + change["args"]}  # type: ignore[operator]
    moved = with_spec(config, target=replace(spec.target, **change))  # type: ignore[arg-type]
    async with host(config) as first_host:
        await run(first_host, config)
        cached = await first_host.catalog("g", spec)
    async with host(moved) as second_host:
        (moved_spec,) = moved.gateways[0].servers
        assert await second_host.catalog("g", moved_spec) is None
    assert cached is not None


async def test_env_and_header_values_are_not_part_of_the_definition(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """A rotated credential (an env value) keeps serving the cached catalog."""
    config, _ = _config(tmp_path, settings)
    (spec,) = config.gateways[0].servers
    assert isinstance(spec.target, StdioTarget)
    with_token = with_spec(
        config, target=replace(spec.target, env={"TOKEN": Secret("old-secret-1")})
    )
    rotated = with_spec(config, target=replace(spec.target, env={"TOKEN": Secret("new-secret-2")}))
    async with host(with_token) as first_host:
        await run(first_host, with_token)
    async with host(rotated) as second_host:
        served = await run(second_host, rotated)
    assert served.source == "cache"


async def expired(cache: Cache, config: DaemonConfig, *, tools: int = 2) -> None:
    """Store an entry for the configured server that expired 10 s ago (within its grace)."""
    (spec,) = config.gateways[0].servers
    fetched = time.time() - 4 * HOUR - 10
    old = entry("g", "notes", fetched_at=fetched, tools=tools, definition=cache.fingerprint(spec))
    await cache.put_many([old])


async def failed_refresh(cache: Cache, config: DaemonConfig, flag: Path) -> ServerOutcome:
    """Discover once, then make the upstream fail (``flag``) and force a refresh: its outcome."""
    await run(cache, config)
    await anyio.Path(flag).touch()
    return await run(cache, config, refresh=True)


async def test_an_expired_entry_is_refreshed(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """An entry past expires_at is not served as fresh: the run asks the upstream again."""
    config, _ = _config(tmp_path, settings)
    async with host(config) as cache:
        await expired(cache, config)
        outcome = await run(cache, config)
        held = await cache.get(CacheType.TOOLS, "g", "notes")
    assert outcome.source == "discovery" and not outcome.stale
    assert [t["name"] for t in outcome.catalog.tools] == NOTES_TOOLS
    assert held is not None and held.freshness(time.time()) == "fresh"


async def test_a_failed_refresh_serves_the_stale_catalog_and_records_the_failure(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """The expired entry is served marked stale, with the error; the entry counts failures."""
    config, flag = _config(tmp_path, settings)
    flag.touch()
    async with host(config) as cache:
        await expired(cache, config, tools=2)
        first = await run(cache, config)
        second = await run(cache, config)
    async with host(config) as other:  # what status shows, from the shared store
        held = await other.get(CacheType.TOOLS, "g", "notes")
        status = await other.status(config.gateways[0])
    assert first.ok and first.source == "cache" and first.stale
    assert first.error is not None and len(first.catalog.tools) == 2
    assert second.stale and second.catalog == first.catalog
    assert held is not None and len(held.catalog.tools) == 2  # never replaced
    assert held.last_error is not None and held.consecutive_failures == 2
    notes = status["cache_status"]["gateway_specific"]["tools"]["servers"]["notes"]
    assert notes["error"] == first.error.message
    assert notes["consecutive_failures"] == 2 and notes["is_stale"] is True


async def test_a_failed_forced_refresh_keeps_the_fresh_entry_and_records_the_failure(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """--refresh on a fresh entry that fails reports the error; the entry stays, failure noted."""
    config, flag = _config(tmp_path, settings)
    async with host(config) as cache:
        failed = await failed_refresh(cache, config, flag)
        served = await run(cache, config)
    async with host(config) as other:
        held = await other.get(CacheType.TOOLS, "g", "notes")
    assert failed.status == "error" and failed.source == "discovery"
    assert served.source == "cache" and served.ok and not served.stale
    assert held is not None and [t["name"] for t in held.catalog.tools] == NOTES_TOOLS
    assert held.consecutive_failures == 1 and held.last_error is not None


async def test_a_successful_refresh_clears_the_failure_count(
    tmp_path: Path, settings: CacheSettings, host: Host
) -> None:
    """Once the upstream answers again, the new entry starts with no failures."""
    config, flag = _config(tmp_path, settings)
    async with host(config) as cache:
        await failed_refresh(cache, config, flag)
        flag.unlink()
        await run(cache, config, refresh=True)
        held = await cache.get(CacheType.TOOLS, "g", "notes")
    assert held is not None and held.consecutive_failures == 0 and held.last_error is None
