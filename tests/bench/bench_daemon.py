"""Daemon soak (issue 10): refresh-ahead under readers, one JSON object out.

    .venv/bin/python -m tests.bench.bench_daemon [--servers 200] [--ttl 10] [--seconds 60]

The issue's size is the defaults with ``--seconds 300`` (5 minutes of readers).

N servers with TTL T; upstreams replaced at the ``Fetcher`` seam by an in-process
fake answering in 50-200 ms (N real children would measure the machine, not the
daemon). After the preload, readers hammer ``DaemonApi.catalog`` for every server:

- misses and expired reads after preload (target 0), stale reads;
- refresh lead: how long before the old entry's expiry each refresh landed
  (``expires_at`` of the entry replaced minus ``fetched_at`` of the new one;
  negative is late; target: all positive);
- discoveries per key per TTL period (refresh-ahead at ~80 %: about 1.25);
- CPU of this process while idle between refreshes (readers stopped).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import anyio
from tests.bench.daemon_parts import LatencyFake, daemon_config, fake_specs

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import CacheSettings


async def soak(servers: int, ttl: float, seconds: float, idle: float) -> dict[str, object]:
    """Run the soak; the figures as a JSON-ready dict."""
    fake = LatencyFake()
    config = daemon_config(
        fake_specs(servers), CacheSettings(tool_ttl=ttl, min_ttl=0.0, stale_grace=ttl)
    )
    started = time.monotonic()
    async with Daemon(config, fetcher=fake) as daemon:
        ready_s = time.monotonic() - started
        api = DaemonApi(daemon)
        names = [f"s{i}" for i in range(servers)]
        reads = misses = expired = stale = 0
        leads: list[float] = []
        seen = {name: api.catalog("g", name) for name in names}
        preload_fetches = fake.fetches
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = time.time()
            for name in names:
                entry = api.catalog("g", name)
                reads += 1
                if entry is None:
                    misses += 1
                    continue
                state = entry.freshness(now)
                expired += state == "expired"
                stale += state == "stale"
                old = seen[name]
                if old is not None and entry.fetched_at != old.fetched_at:
                    leads.append(old.expires_at - entry.fetched_at)
                seen[name] = entry
            await anyio.sleep(0.005)
        refreshes = fake.fetches - preload_fetches
        cpu_before, wall_before = time.process_time(), time.monotonic()
        await anyio.sleep(idle)
        idle_cpu = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
    leads.sort()
    return {
        "servers": servers,
        "ttl_s": ttl,
        "seconds": seconds,
        "upstreams": "in-process fake at the Fetcher seam, 50-200 ms per listing",
        "ready_after_s": round(ready_s, 3),
        "reads": reads,
        "misses_after_preload": misses,
        "expired_reads": expired,
        "stale_reads": stale,
        "refreshes": refreshes,
        "discoveries_per_key_per_ttl": round(refreshes / servers / (seconds / ttl), 3),
        "refresh_lead_s": {
            "count": len(leads),
            "min": round(leads[0], 3) if leads else None,
            "p50": round(statistics.median(leads), 3) if leads else None,
            "max": round(leads[-1], 3) if leads else None,
            "late": sum(1 for lead in leads if lead < 0),
        },
        "idle_cpu_percent": round(idle_cpu * 100, 2),
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--ttl", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured")
    args = parser.parse_args()
    print(json.dumps(anyio.run(soak, args.servers, args.ttl, args.seconds, args.idle), indent=2))


if __name__ == "__main__":
    main()
