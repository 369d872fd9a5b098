"""Shared helpers for the upstream client tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp_discoveryd.config.settings import DiscoverySettings
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, StdioTarget, UpstreamResult
from mcp_discoveryd.secret import Secret

SERVERS = Path(__file__).resolve().parents[1] / "servers"
RAW = str(SERVERS / "raw_server.py")
SDK = str(SERVERS / "sdk_servers.py")
SLACK = 3.0  # generous bound past a deadline on a noisy 2-core machine (the SDK's own is +4 s)


def settings(**overrides: Any) -> DiscoverySettings:
    """Discovery settings for tests: small caps so limits are cheap to reach."""
    values: dict[str, Any] = {"max_concurrent_spawns": 2, "page_cap": 100}
    values.update(overrides)
    return DiscoverySettings(**values)


def raw(
    *flags: str, timeout: float = 10.0, env: Mapping[str, str] | None = None, name: str = "raw"
) -> ServerSpec:
    """A spec for the standard-library test server with the given flags."""
    target = StdioTarget(
        sys.executable, (RAW, *flags), env={k: Secret(v) for k, v in (env or {}).items()}
    )
    return ServerSpec(name=name, target=target, timeout=timeout)


async def fetch(spec: ServerSpec, **overrides: Any) -> tuple[UpstreamResult, float]:
    """Fetch one spec with a fresh client; the result and the wall time it took."""
    async with UpstreamClient(settings(**overrides)) as client:
        started = time.monotonic()
        result = await client.fetch(spec)
        return result, time.monotonic() - started


def tool_names(result: UpstreamResult) -> list[str]:
    """The names of the tools in a successful result."""
    assert result.catalog is not None, result.error
    return [tool["name"] for tool in result.catalog.tools]
