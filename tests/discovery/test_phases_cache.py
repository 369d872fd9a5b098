"""Discovery with a cache: results are written, a second run answers from the cache."""

from __future__ import annotations

import sys
from pathlib import Path

from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config.model import DaemonConfig, DiscoverySettings, GatewayConfig
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import CacheType, ServerSpec, StdioTarget

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "daemon" / "examples" / "servers" / "demo_server.py")


def _config(tmp_path: Path) -> tuple[DaemonConfig, Path]:
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
    )
    return config, flag


async def test_second_run_answers_from_cache_unless_refresh(tmp_path: Path) -> None:
    """Run 1 discovers and writes; run 2 is served from the cache; --refresh asks again."""
    config, _ = _config(tmp_path)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as upstream:
        first = await run_discovery(config, upstream, cache=cache)
        entry = await cache.get(CacheType.TOOLS, "g", "notes")
        second = await run_discovery(config, upstream, cache=cache)
        refreshed = await run_discovery(config, upstream, cache=cache, refresh=True)
    assert first.outcomes[0].source == "discovery"
    assert entry is not None and entry.source == "discovery"
    assert [t["name"] for t in entry.catalog.tools] == ["list_notes", "read_note", "add_note"]
    assert second.outcomes[0].source == "cache"
    assert second.outcomes[0].catalog == first.outcomes[0].catalog
    assert refreshed.outcomes[0].source == "discovery"


async def test_a_failed_refresh_never_replaces_cached_good_data(tmp_path: Path) -> None:
    """When the upstream breaks, a refresh reports the error and the cached entry survives."""
    config, flag = _config(tmp_path)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as upstream:
        await run_discovery(config, upstream, cache=cache)
        flag.touch()
        failed = await run_discovery(config, upstream, cache=cache, refresh=True)
        kept = await cache.get(CacheType.TOOLS, "g", "notes")
        served = await run_discovery(config, upstream, cache=cache)
    assert failed.outcomes[0].status == "error"
    assert kept is not None and len(kept.catalog.tools) == 3
    assert served.outcomes[0].source == "cache" and served.outcomes[0].ok


async def test_a_run_writes_the_gateway_config_entry(tmp_path: Path) -> None:
    """Status shows the gateway's config as cached once a run covered that gateway."""
    config, _ = _config(tmp_path)
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as upstream:
        assert await cache.get(CacheType.GATEWAY_CONFIG, "g", None) is None
        await run_discovery(config, upstream, cache=cache)
        entry = await cache.get(CacheType.GATEWAY_CONFIG, "g", None)
        status = await cache.status(config.gateways[0], config)
    assert entry is not None and entry.gateway_config is not None
    assert status["cache_status"]["gateway_specific"]["config"]["exists"] is True
