"""Daemon footprint (issue 10): one daemon holding 1,000 servers x 50 tools, one JSON object out.

    .venv/bin/python -m tests.bench.bench_footprint [--servers 1000] [--tools 50] [--idle 20]

Run as a process of its own (``collect`` starts one), so the resident set is the
daemon's plus the imports. Upstreams are the in-process fake at the ``Fetcher`` seam
(1,000 real children would measure the machine, and their memory is not the
daemon's), answering in 50-200 ms with 50 tools (input and output schemas,
annotations, _meta; ~27 KB encoded) decoded afresh from JSON text per listing, as
a real reply is. The memory cache, default TTLs (4 h: no refresh falls in the
idle window). Reports:

- resident set (``/proc/self/status`` VmRSS) after the imports, once ready after
  the preload, and after the idle window; the peak (VmHWM). Target: 150 MB or
  less once ready;
- this process's CPU over ``idle`` seconds with every server loaded and nothing
  due, as a share of one core. Target: under 1 %.

``--trace`` adds the heap held once ready and the ten source lines holding the
most of it (tracemalloc; it slows the preload and adds to the resident set it
reports).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
from tests.bench.daemon_parts import (
    Clock,
    LatencyFake,
    daemon_config,
    fake_specs,
    memory_mb,
    rich_tools,
)

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import CacheSettings

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"rss_mb": 150, "idle_cpu_percent": 1.0}


def _top_lines(limit: int = 10) -> list[dict[str, Any]]:
    """The source lines holding the most traced heap now, in MB."""
    stats = tracemalloc.take_snapshot().statistics("lineno")[:limit]
    return [
        {"at": str(s.traceback[0]), "mb": round(s.size / 1e6, 1), "blocks": s.count} for s in stats
    ]


def _heap_mb() -> float:
    """The traced heap held now, in MB."""
    return round(tracemalloc.get_traced_memory()[0] / 1e6, 1)


async def footprint(servers: int, tools: int, idle: float, trace: bool = False) -> dict[str, Any]:
    """Preload one daemon, then sit idle; the figures as a JSON-ready dict."""
    baseline = memory_mb()
    if trace:
        tracemalloc.start()
    fake = LatencyFake(tools=rich_tools(tools))
    config = daemon_config(fake_specs(servers), CacheSettings())
    start = Clock.now()
    async with Daemon(config, fetcher=fake) as daemon:
        preload = Clock.now().since(start)
        api = DaemonApi(daemon)
        held = [api.catalog("g", f"s{i}") for i in range(servers)]
        loaded = sum(1 for e in held if e is not None and e.catalog.tool_count == tools)
        del held
        ready = memory_mb()
        top = {"heap_mb": _heap_mb(), "top_lines": _top_lines()} if trace else None
        before = Clock.now()
        await anyio.sleep(idle)
        window = Clock.now().since(before)
        after = memory_mb()
        fetches = fake.fetches
    return {
        "servers": servers,
        "tools_per_server": tools,
        "upstreams": "in-process fake at the Fetcher seam, 50-200 ms, rich tools decoded per listing",
        "servers_loaded": loaded,
        "preload": preload,
        "rss_mb": {
            "after_imports": baseline["rss_mb"],
            "ready": ready["rss_mb"],
            "after_idle": after["rss_mb"],
            "peak_hwm": after["hwm_mb"],
            "daemon_share": round(ready["rss_mb"] - baseline["rss_mb"], 1),
        },
        "idle": window,
        "idle_cpu_percent": round(100 * window["cpu_s"] / window["wall_s"], 3),
        "upstream_fetches": fetches,  # == servers: nothing refreshed in the window
        "targets": TARGETS,
    } | ({"heap": top, "traced": True} if trace else {})


def collect(servers: int = 1000, tools: int = 50, idle: float = 20.0) -> Any:
    """The figures from a fresh process (this one's heap holds the other benchmarks')."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_footprint"]
        + ["--servers", str(servers), "--tools", str(tools), "--idle", str(idle)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--tools", type=int, default=50)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measured")
    parser.add_argument("--trace", action="store_true", help="where the heap goes (slower)")
    args = parser.parse_args()
    figures = anyio.run(footprint, args.servers, args.tools, args.idle, args.trace)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
