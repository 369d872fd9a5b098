"""Fleet simulation (issue 10): N daemons on one real Redis, one JSON object out.

    .venv/bin/python -m tests.bench.bench_fleet [--daemons 20] [--servers 2000]
        [--ttl 5] [--periods 3]

N daemons run in one process, each with its own cache, listener and leases (as on N
hosts); upstreams are replaced at the ``Fetcher`` seam by one shared in-process fake
answering in 50-200 ms that records when each key was fetched. After every daemon is
ready, the fleet runs for ``periods`` refresh periods (a period: 80 % of the TTL plus
a discovery) and reports:

- ``discoveries_per_key_per_period``: fetches in the window over the refresh periods
  they fell in, fleet-wide (a fetch within half a period of the key's previous one is
  a duplicate, not a new period); target 1.05 or less;
- ``redis_commands_per_s_per_daemon``: ``INFO commandstats`` calls before and after
  the window (ours excluded), over the window and the daemon count.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from contextlib import AsyncExitStack

import anyio
from tests.bench.daemon_parts import LatencyFake, daemon_config, fake_specs
from tests.cache.builders import redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import DaemonConfig, DaemonSettings


def _config(url: str, servers: int, ttl: float) -> DaemonConfig:
    return daemon_config(
        fake_specs(servers),
        redis_settings(url, tool_ttl=ttl, min_ttl=0.0, stale_grace=ttl),
        DaemonSettings(retry_initial=0.5, preload_timeout=300.0),
    )


def _commands(info: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k[8:]: v["calls"] for k, v in info.items() if k.startswith("cmdstat_")}


async def fleet(
    url: str, daemons: int, servers: int, ttl: float, periods: int
) -> dict[str, object]:
    """Run the fleet; the figures as a JSON-ready dict."""
    from redis.asyncio import Redis  # the benchmark's own reader, not the daemon's client

    fake = LatencyFake()  # one upstream per server name, shared by every daemon
    period = 0.8 * ttl + 0.125
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        for _ in range(daemons):
            await stack.enter_async_context(Daemon(_config(url, servers, ttl), fetcher=fake))
        ready_s = time.monotonic() - started
        before_window = fake.fetches
        probe = Redis.from_url(url)
        before = _commands(await probe.info("commandstats"))
        window_start, cpu_start = time.monotonic(), time.process_time()
        await anyio.sleep(periods * period)
        window_end, cpu_end = time.monotonic(), time.process_time()
        after = _commands(await probe.info("commandstats"))
        await probe.aclose()
    window = window_end - window_start
    calls = {k: v - before.get(k, 0) for k, v in after.items()}
    calls["info"] = calls.get("info", 1) - 1  # our own INFO
    fetches = refreshes = 0
    for times in fake.fetched.values():
        within = [t for t in times if window_start <= t < window_end]
        fetches += len(within)
        earlier = [t for t in times if t < window_start][-1:]
        # a new refresh period for the key: not within half a period of its previous fetch
        refreshes += sum(1 for a, b in itertools.pairwise(earlier + within) if b - a > period / 2)
        refreshes += 0 if earlier or not within else 1
    return {
        "daemons": daemons,
        "servers": servers,
        "ttl_s": ttl,
        "periods": periods,
        "window_s": round(window, 2),
        "ready_s": round(ready_s, 2),
        # the whole fleet shares one process: near 100 % it, not the design, sets the pace
        "process_cpu_percent_in_window": round(100 * (cpu_end - cpu_start) / window, 1),
        "fetches_before_window": before_window,  # the preload, and refreshes while others start
        "fetches_in_window": fetches,
        "refresh_periods_seen": refreshes,
        "discoveries_per_key_per_period": round(fetches / refreshes, 3) if refreshes else None,
        "redis_commands_per_s_per_daemon": round(sum(calls.values()) / window / daemons, 1),
        "by_command_per_s_per_daemon": {
            k: round(v / window / daemons, 1) for k, v in sorted(calls.items()) if v
        },
    }


def main() -> None:
    """Parse arguments, start a Redis, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemons", type=int, default=20)
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--ttl", type=float, default=5.0)
    parser.add_argument("--periods", type=int, default=3)
    args = parser.parse_args()
    redis = RedisServer.launch()
    try:
        figures = anyio.run(fleet, redis.url, args.daemons, args.servers, args.ttl, args.periods)
    finally:
        redis.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
