"""Fleet simulation (issue 10): N daemons on one real Redis, one JSON object out.

    .venv/bin/python -m tests.bench.bench_fleet [--daemons 20] [--servers 2000]
        [--ttl SECONDS] [--periods 3]

N daemons run in one process, each with its own cache, listener, leases and Redis
pool (as on N hosts); upstreams are replaced at the ``Fetcher`` seam by one shared
in-process fake answering in 50-200 ms that records when each key was fetched. The
daemons start together (a fleet restarted at once: the harshest preload for single
flight). After every daemon is ready, the fleet runs for ``periods`` refresh periods
(a period: 80 % of the TTL plus a discovery) and reports:

- ``discoveries_per_key_per_period``: fetches in the window over the refresh periods
  they fell in, fleet-wide (a fetch within half a period of the key's previous one is
  a duplicate, not a new period); target 1.05 or less;
- ``preload_discoveries_per_key``: fetches until every daemon was ready, per key
  (target 1: one daemon discovers, the others wait for its result);
- ``redis_commands_per_s_per_daemon``: ``INFO commandstats`` calls before and after
  the window (ours excluded), over the window and the daemon count;
- ``degraded_daemons``: daemons whose cache went degraded at any time (target 0: the
  Redis never goes down here, so any is load misread as an outage).

The TTL defaults to one within which this single process can preload the whole fleet
(about 100 daemon-keys a second on one core: every daemon handles every key's events),
``daemons x servers / 100`` s, 5 s at least (400 s at 20 x 2,000: a run of about 25
minutes with 3 periods). A shorter TTL sets refreshes going while daemons still
preload, and then measures this process's CPU, not the design.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import anyio
from anyio.abc import TaskStatus
from tests.bench.daemon_parts import LatencyFake, daemon_config, fake_specs
from tests.cache.builders import redis_settings
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import DaemonConfig, DaemonSettings

WORK_PER_SECOND = 100  # daemon-keys this one process preloads per second (one core)


def _config(url: str, servers: int, ttl: float) -> DaemonConfig:
    return daemon_config(
        fake_specs(servers),
        redis_settings(url, tool_ttl=ttl, min_ttl=0.0, stale_grace=ttl),
        DaemonSettings(retry_initial=0.5, preload_timeout=3600.0),
    )


def _commands(info: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k[8:]: v["calls"] for k, v in info.items() if k.startswith("cmdstat_")}


def default_ttl(daemons: int, servers: int) -> float:
    """A TTL long enough for this process to do one period's work for the whole fleet."""
    return max(5.0, daemons * servers / WORK_PER_SECOND)


async def _run_daemon(
    config: DaemonConfig,
    fake: LatencyFake,
    degraded: list[bool],
    stop: anyio.Event,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """One daemon from start to ``stop``; ready once its preload is done."""
    async with Daemon(config, fetcher=fake) as daemon:
        index = len(degraded)
        degraded.append(False)

        async def watch_health() -> None:
            await daemon.cache.wait_down()
            degraded[index] = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_health)
            task_status.started()
            await stop.wait()
            tg.cancel_scope.cancel()


async def fleet(
    url: str, daemons: int, servers: int, ttl: float, periods: int
) -> dict[str, object]:
    """Run the fleet; the figures as a JSON-ready dict."""
    from redis.asyncio import Redis  # the benchmark's own reader, not the daemon's client

    fake = LatencyFake()  # one upstream per server name, shared by every daemon
    period = 0.8 * ttl + 0.125
    config = _config(url, servers, ttl)
    degraded: list[bool] = []
    stop = anyio.Event()
    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        async with anyio.create_task_group() as starting:  # all at once, each in its task
            for _ in range(daemons):
                starting.start_soon(tg.start, _run_daemon, config, fake, degraded, stop)
        ready_s = time.monotonic() - started
        preload_fetches = fake.fetches
        probe = Redis.from_url(url)
        before = _commands(await probe.info("commandstats"))
        window_start, cpu_start = time.monotonic(), time.process_time()
        await anyio.sleep(periods * period)
        window_end, cpu_end = time.monotonic(), time.process_time()
        after = _commands(await probe.info("commandstats"))
        await probe.aclose()
        stop.set()
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
        "preload_discoveries_per_key": round(preload_fetches / servers, 3),
        "fetches_before_window": fake.fetches - fetches,  # preload and any refresh before
        "fetches_in_window": fetches,
        "refresh_periods_seen": refreshes,
        "discoveries_per_key_per_period": round(fetches / refreshes, 3) if refreshes else None,
        "degraded_daemons": sum(degraded),
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
    parser.add_argument("--ttl", type=float, default=None, help="default: see the docstring")
    parser.add_argument("--periods", type=int, default=3)
    args = parser.parse_args()
    ttl = args.ttl if args.ttl is not None else default_ttl(args.daemons, args.servers)
    redis = RedisServer.launch()
    try:
        figures = anyio.run(fleet, redis.url, args.daemons, args.servers, ttl, args.periods)
    finally:
        redis.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
