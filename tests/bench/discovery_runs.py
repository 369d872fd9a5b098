"""What the discovery benchmarks share: a config of specs, one discovery, ports, medians.

Imports only ``UpstreamClient`` and ``run_discovery`` of the engine (and the config's
types, wherever the tree keeps them), so the benchmarks run against older trees too.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

try:
    from mcp_discoveryd.config.settings import DaemonConfig, DiscoverySettings, GatewayConfig
    from mcp_discoveryd.config.targets import remote_target
except ImportError:  # a tree from before config/settings.py (measuring an older engine)
    from mcp_discoveryd.config.model import (  # type: ignore[import-not-found, no-redef]
        DaemonConfig,
        DiscoverySettings,
        GatewayConfig,
    )

    from mcp_discoveryd.models import RemoteTarget as remote_target  # type: ignore[assignment]
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec

__all__ = ["DaemonConfig", "DiscoverySettings", "GatewayConfig", "remote_target"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"benchmark server on port {port} did not start")


def config_of(specs: list[ServerSpec], spawns: int | None = None) -> DaemonConfig:
    settings = DiscoverySettings()
    if spawns is not None:  # a given limit is the fixed count of earlier versions
        fixed: dict[str, Any] = {"max_concurrent_spawns": spawns}
        if hasattr(settings, "spawn_admission"):  # bench_admission measures the other policies
            fixed["spawn_admission"] = "count"
        settings = replace(settings, **fixed)  # older trees have no spawn_admission
    return DaemonConfig(
        path="<bench>",
        format="toml",
        gateways=(GatewayConfig(id="bench", servers=tuple(specs)),),
        discovery=settings,
    )


async def discover(config: DaemonConfig) -> tuple[float, int]:
    async with UpstreamClient(config.discovery) as upstream:
        started = time.perf_counter()
        report = await run_discovery(config, upstream)
        wall = time.perf_counter() - started
    ok = sum(1 for o in report.outcomes if o.ok)
    return wall, ok


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
