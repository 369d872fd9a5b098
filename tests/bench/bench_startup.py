"""Daemon startup (issue 10): start to ready with 100 servers, one JSON object out.

    .venv/bin/python -m tests.bench.bench_startup [--servers 100] [--upstreams stdio|fake|both]

Each mode measures the slowest server's own discovery alone, then a daemon with all
N servers from ``Daemon(config)`` to ready (``ready = "after-preload"``: every first
discovery ended), wall and CPU (this process's, and its reaped children's). Target:
ready within the slowest alone + 1 s.

- ``stdio``: real children, N of the standard-library server
  (tests/servers/raw_server.py, 10 tools, ~40 ms of CPU to start), each sleeping
  before it serves for 0 to 2 s spread evenly (``--start-ms``: a package fetch,
  as ``npx``/``uvx`` do). The SDK's servers need ~1 s of CPU each to start: 100 of
  them are ~100 s of CPU, which on 2 cores measures the machine, not the daemon.
  The slowest alone goes through the upstream client the daemon uses. The floor
  the children's CPU sets (their CPU in the run / cores) is reported beside it.
- ``fake``: the in-process fake at the ``Fetcher`` seam answering after 0.05 to
  2 s spread evenly: the daemon's own cost of starting, with no children.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import anyio
from tests.bench.daemon_parts import Clock, LatencyFake, daemon_config, fake_specs

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import CacheSettings, DaemonConfig
from mcp_discoveryd.discovery.admission import available_cores
from mcp_discoveryd.discovery.selection import Fetcher
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, StdioTarget

RAW = str(Path(__file__).resolve().parents[2] / "tests" / "servers" / "raw_server.py")
SLOWEST = 2.0  # seconds: the last server's start delay (stdio) or latency (fake)
TARGET_MARGIN_S = 1.0


def _spread(i: int, n: int, low: float) -> float:
    """``low`` to SLOWEST, evenly over n servers; the last is the slowest."""
    return low + (SLOWEST - low) * i / max(1, n - 1)


def stdio_specs(servers: int) -> tuple[ServerSpec, ...]:
    """N raw servers, the i-th sleeping ``_spread(i)`` before it serves."""
    return tuple(
        ServerSpec(
            f"s{i}",
            StdioTarget(
                sys.executable,
                (RAW, "--tools", "10", "--start-ms", str(round(1000 * _spread(i, servers, 0.0)))),
            ),
        )
        for i in range(servers)
    )


async def _ready(config: DaemonConfig, fetcher: Fetcher | None) -> dict[str, Any]:
    """Start a daemon; wall and CPU to ready, and how many servers it holds then."""
    start = Clock.now()
    async with Daemon(config, fetcher=fetcher) as daemon:
        figures: dict[str, Any] = Clock.now().since(start)
        api = DaemonApi(daemon)
        names = [s.name for s in config.gateways[0].servers]
        figures["servers_held"] = sum(1 for n in names if api.catalog("g", n) is not None)
    return figures


async def _alone(fetcher: Fetcher, spec: ServerSpec) -> dict[str, float]:
    start = Clock.now()
    result = await fetcher.fetch(spec)
    if not result.ok:
        raise RuntimeError(f"{spec.name} failed alone: {result.error}")
    return Clock.now().since(start)


async def stdio(servers: int) -> dict[str, Any]:
    """Real stdio children: the slowest alone, then all of them in a daemon."""
    specs = stdio_specs(servers)
    config = daemon_config(specs, CacheSettings())
    async with UpstreamClient(config.discovery) as client:
        fastest = await _alone(client, specs[0])  # first: it carries the client's first-use imports
        slowest = await _alone(client, specs[-1])
    run = await _ready(config, None)
    return _verdict(servers, slowest, run) | {
        "upstreams": "raw_server.py stdio children, start delays 0-2 s, 10 tools",
        "fastest_alone": fastest,
        "children_cpu_floor_s": round(run["children_cpu_s"] / available_cores(), 3),
        "cores": available_cores(),
    }


async def fake(servers: int) -> dict[str, Any]:
    """The fake at the Fetcher seam: the slowest alone, then all of them in a daemon."""
    specs = fake_specs(servers)
    latency = {s.name: _spread(i, servers, 0.05) for i, s in enumerate(specs)}
    fetcher = LatencyFake(latency=lambda spec: latency[spec.name])
    slowest = await _alone(fetcher, specs[-1])
    run = await _ready(daemon_config(specs, CacheSettings()), fetcher)
    return _verdict(servers, slowest, run) | {
        "upstreams": "in-process fake at the Fetcher seam, latencies 0.05-2 s"
    }


def _verdict(servers: int, slowest: dict[str, float], run: dict[str, Any]) -> dict[str, Any]:
    return {
        "servers": servers,
        "slowest_alone": slowest,
        "ready": run,
        "ready_minus_slowest_s": round(run["wall_s"] - slowest["wall_s"], 3),
        "target": f"ready within the slowest + {TARGET_MARGIN_S:.0f} s",
        "met": run["wall_s"] <= slowest["wall_s"] + TARGET_MARGIN_S,
    }


def collect(servers: int = 100, upstreams: str = "both") -> dict[str, Any]:
    """Every mode asked for, as one JSON-ready object."""
    modes = ("stdio", "fake") if upstreams == "both" else (upstreams,)
    runs = {"stdio": stdio, "fake": fake}
    return {mode: anyio.run(runs[mode], servers) for mode in modes}


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--upstreams", choices=("stdio", "fake", "both"), default="both")
    args = parser.parse_args()
    print(json.dumps(collect(args.servers, args.upstreams), indent=2))


if __name__ == "__main__":
    main()
