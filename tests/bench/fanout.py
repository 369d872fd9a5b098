"""The remote fan-out benchmark: 50 upstreams of one server process, each listing after 500 ms.

.venv/bin/python -m tests.bench.bench_discovery remote_fanout
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import anyio

from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, Transport

from .discovery_runs import (
    ROOT,
    DaemonConfig,
    config_of,
    discover,
    free_port,
    median,
    remote_target,
    wait_port,
)

DELAY = 0.5
FANOUT = 50
FANOUT_RUNS = 5  # the median is reported: this 2-core machine is noisy


@dataclass(frozen=True)
class FanoutRun:
    """One fan-out: wall and CPU of this process, and when (monotonic) it started and ended."""

    wall: float
    ok: int
    cpu: float
    started_at: float
    ended_at: float


async def _discover_cpu(config: DaemonConfig) -> FanoutRun:
    """Like _discover, plus the CPU time this process spent on the run.

    The CPU counts until the client is closed: a remote session hands its
    result over before it closes, so closes still running when the last result
    is in are work of the run too (and how many there are depends on the order
    the sessions finished in).
    """
    async with UpstreamClient(config.discovery) as upstream:
        cpu = time.process_time()
        started_at = time.monotonic()
        started = time.perf_counter()
        report = await run_discovery(config, upstream)
        wall = time.perf_counter() - started
        ended_at = time.monotonic()
    cpu = time.process_time() - cpu
    return FanoutRun(wall, sum(1 for o in report.outcomes if o.ok), cpu, started_at, ended_at)


def _server_cpu(port: int) -> tuple[float, float, float]:
    """The bench server's CPU seconds now, at its latest tools/list, and that list's time."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/cpu", timeout=10) as reply:
        data = json.loads(reply.read())
    return data["cpu_s"], data["last_list_cpu_s"], data["last_list_at"]


def _fanout(mode: str) -> dict[str, Any]:
    """FANOUT remote upstreams against one server process in ``mode``, FANOUT_RUNS times.

    ``server_bound_ratio``: the last upstream's 500 ms cannot start before the
    single-threaded server has received its tools/list, and by then the server
    had spent ``server_cpu_before_last_list_s`` of CPU on this run (so at least
    that much wall time). No client making the same requests, however fast,
    gets below that ratio against this one server process.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "tests.bench.slow_http_server", str(port), str(DELAY), mode]
    server = subprocess.Popen(cmd, cwd=ROOT)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}/mcp"

        def spec(i: int) -> ServerSpec:
            target = remote_target(f"{url}?upstream={i}", Transport.STREAMABLE_HTTP)
            return ServerSpec(name=f"remote{i}", target=target, timeout=30)

        anyio.run(discover, config_of([spec(999)]))  # warm the server's imports and routes
        single = median([anyio.run(discover, config_of([spec(1000 + i)]))[0] for i in range(3)])
        walls: list[float] = []
        client_cpu: list[float] = []
        server_cpu: list[float] = []
        server_pre: list[float] = []
        lists_sent: list[float] = []
        tails: list[float] = []
        ok = FANOUT
        for _ in range(FANOUT_RUNS):
            before, _, _ = _server_cpu(port)
            run = anyio.run(_discover_cpu, config_of([spec(i) for i in range(FANOUT)]))
            after, last_list, last_list_at = _server_cpu(port)
            walls.append(run.wall)
            client_cpu.append(run.cpu)
            server_cpu.append(after - before)
            server_pre.append(last_list - before)
            lists_sent.append(last_list_at - run.started_at)
            tails.append(run.ended_at - (last_list_at + DELAY))
            ok = min(ok, run.ok)
    finally:
        server.terminate()
        server.wait(10)
    wall = median(walls)
    return {
        "succeeded": ok,
        "wall_s": round(wall, 3),
        "wall_min_s": round(min(walls), 3),
        "one_upstream_s": round(single, 3),
        "ratio_to_delay": round(wall / DELAY, 3),
        "ratio_to_one_upstream": round(wall / single, 3),
        "client_cpu_ms_per_upstream": round(median(client_cpu) / FANOUT * 1000, 2),
        "server_cpu_ms_per_upstream": round(median(server_cpu) / FANOUT * 1000, 2),
        "server_cpu_before_last_list_s": round(median(server_pre), 3),
        "server_bound_ratio": round((DELAY + median(server_pre)) / DELAY, 3),
        "ratio_to_floor": round(wall / (DELAY + median(server_pre)), 3),
        # Where the wall time past the floor went: the server idle (waiting on the client)
        # before the last tools/list arrived, and the client's work after that list's delay.
        "last_list_arrived_s": round(median(lists_sent), 3),
        "server_idle_before_last_list_s": round(median(lists_sent) - median(server_pre), 3),
        "tail_after_last_delay_s": round(median(tails), 3),
    }


def remote_fanout() -> dict[str, Any]:
    """50 remote upstreams at 500 ms each: one discovery of all, per server mode."""
    return {
        "upstreams": FANOUT,
        "upstream_delay_s": DELAY,
        "runs_per_mode": FANOUT_RUNS,
        "target_ratio_to_delay": 1.3,
        "raw": _fanout("raw"),
        "stateful": _fanout("stateful"),
        "stateless": _fanout("stateless"),
    }
