"""Discovery through the cache, as ``discover`` runs it: a second run within the TTL is served
from Redis, ``refresh`` asks the upstream again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.cache.builders import config, redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config.settings import DaemonConfig, GatewayConfig
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import CacheType, DiscoveryReport, ServerSpec, StdioTarget

pytestmark = pytest.mark.redis

DEMO = Path(__file__).resolve().parents[2] / "daemon" / "examples" / "servers" / "demo_server.py"


def demo_config(url: str) -> DaemonConfig:
    spec = ServerSpec(
        name="notes", target=StdioTarget(command=sys.executable, args=(str(DEMO), "notes"))
    )
    return config(redis_settings(url), (GatewayConfig(id="demo", servers=(spec,)),))


async def discover(cfg: DaemonConfig, *, refresh: bool = False) -> DiscoveryReport:
    """One run, in a fresh cache (as a new ``discover`` process would have)."""
    async with open_cache(cfg) as cache, UpstreamClient(cfg.discovery) as upstream:
        return await run_discovery(cfg, upstream, cache=cache, refresh=refresh)


async def test_second_run_is_served_from_the_cache(redis_server: RedisServer) -> None:
    """Run 1 discovers and stores; run 2 answers from Redis with the same catalog; refresh rediscovers."""
    cfg = demo_config(redis_server.url)
    first = await discover(cfg)
    (one,) = first.outcomes
    assert one.ok and one.source == "discovery" and one.catalog.tools
    second = await discover(cfg)
    (two,) = second.outcomes
    assert two.source == "cache"
    assert two.catalog == one.catalog
    assert two.server_info == one.server_info and two.protocol_version == one.protocol_version
    third = await discover(cfg, refresh=True)
    assert third.outcomes[0].source == "discovery"
    async with open_cache(cfg) as cache:
        stored = await cache.get(CacheType.TOOLS, "demo", "notes")
    assert (
        stored is not None and stored.fetched_at > 0 and stored.content_hash.startswith("sha256:")
    )
