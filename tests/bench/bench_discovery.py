"""Discovery benchmarks (issue 2). Prints one JSON object.

    .venv/bin/python -m tests.bench.bench_discovery [SECTION ...]

SECTION is one of remote_fanout, stdio_limiter, cli_vs_sdk_loop (default: all).
The file imports only ``UpstreamClient`` and ``run_discovery``, so the same
file runs against older trees too (copy it there to compare engines).

1. remote_fanout: 50 remote upstreams served by one process, each answering
   `tools/list` after 500 ms; one discovery of all, as a ratio to 500 ms and to
   one upstream's own discovery time measured in the same run. Run against a
   standard-library server ("raw": sessions, JSON replies, a fraction of a
   millisecond of CPU per request), the SDK's server with sessions and SSE
   replies ("stateful", its default) and without ("stateless"), with the CPU
   time each side spent: the 50 upstreams share one server process, so its CPU
   (one core) is part of the wall time that 50 real servers would spread over
   50 machines; the raw server keeps that share small, so it measures the client.
2. stdio_limiter: 16 stdio upstreams of a minimal server, run with the default
   spawn limit and one at a time; wall time against the limit's ideal
   (sequential total / limit).
3. cli_vs_sdk_loop: the same 8-server stdio workload run by this CLI (a
   subprocess, process start included) and by a one-at-a-time loop over the SDK.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

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
from mcp_discoveryd.models import ServerSpec, StdioTarget, Transport

ROOT = Path(__file__).resolve().parents[2]
DEMO_SERVER = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"
DELAY = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"benchmark server on port {port} did not start")


def _config(specs: list[ServerSpec], spawns: int | None = None) -> DaemonConfig:
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


async def _discover(config: DaemonConfig) -> tuple[float, int]:
    async with UpstreamClient(config.discovery) as upstream:
        started = time.perf_counter()
        report = await run_discovery(config, upstream)
        wall = time.perf_counter() - started
    ok = sum(1 for o in report.outcomes if o.ok)
    return wall, ok


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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _fanout(mode: str) -> dict[str, Any]:
    """FANOUT remote upstreams against one server process in ``mode``, FANOUT_RUNS times.

    ``server_bound_ratio``: the last upstream's 500 ms cannot start before the
    single-threaded server has received its tools/list, and by then the server
    had spent ``server_cpu_before_last_list_s`` of CPU on this run (so at least
    that much wall time). No client making the same requests, however fast,
    gets below that ratio against this one server process.
    """
    port = _free_port()
    cmd = [sys.executable, "-m", "tests.bench.slow_http_server", str(port), str(DELAY), mode]
    server = subprocess.Popen(cmd, cwd=ROOT)
    try:
        _wait_port(port)
        url = f"http://127.0.0.1:{port}/mcp"

        def spec(i: int) -> ServerSpec:
            target = remote_target(f"{url}?upstream={i}", Transport.STREAMABLE_HTTP)
            return ServerSpec(name=f"remote{i}", target=target, timeout=30)

        anyio.run(_discover, _config([spec(999)]))  # warm the server's imports and routes
        single = _median([anyio.run(_discover, _config([spec(1000 + i)]))[0] for i in range(3)])
        walls: list[float] = []
        client_cpu: list[float] = []
        server_cpu: list[float] = []
        server_pre: list[float] = []
        lists_sent: list[float] = []
        tails: list[float] = []
        ok = FANOUT
        for _ in range(FANOUT_RUNS):
            before, _, _ = _server_cpu(port)
            run = anyio.run(_discover_cpu, _config([spec(i) for i in range(FANOUT)]))
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
    wall = _median(walls)
    return {
        "succeeded": ok,
        "wall_s": round(wall, 3),
        "wall_min_s": round(min(walls), 3),
        "one_upstream_s": round(single, 3),
        "ratio_to_delay": round(wall / DELAY, 3),
        "ratio_to_one_upstream": round(wall / single, 3),
        "client_cpu_ms_per_upstream": round(_median(client_cpu) / FANOUT * 1000, 2),
        "server_cpu_ms_per_upstream": round(_median(server_cpu) / FANOUT * 1000, 2),
        "server_cpu_before_last_list_s": round(_median(server_pre), 3),
        "server_bound_ratio": round((DELAY + _median(server_pre)) / DELAY, 3),
        "ratio_to_floor": round(wall / (DELAY + _median(server_pre)), 3),
        # Where the wall time past the floor went: the server idle (waiting on the client)
        # before the last tools/list arrived, and the client's work after that list's delay.
        "last_list_arrived_s": round(_median(lists_sent), 3),
        "server_idle_before_last_list_s": round(_median(lists_sent) - _median(server_pre), 3),
        "tail_after_last_delay_s": round(_median(tails), 3),
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


def _stdio_specs(n: int) -> list[ServerSpec]:
    # A distinct argument per server, so the run does not share one fetch between them.
    return [
        ServerSpec(
            name=f"stdio{i}",
            target=StdioTarget(sys.executable, (str(DEMO_SERVER), "minimal", f"--id={i}")),
            timeout=30,
        )
        for i in range(n)
    ]


STDIO_RUNS = 3  # medians of each side are compared


def stdio_limiter() -> dict[str, Any]:
    """16 stdio upstreams: default limit vs one at a time vs the limit's ideal."""
    specs = _stdio_specs(16)
    limit = os.cpu_count() or 1  # the fixed limit's old default
    sequentials: list[float] = []
    parallels: list[float] = []
    ok = len(specs)
    for _ in range(STDIO_RUNS):  # interleaved, so a noisy moment hits both sides alike
        wall, ok_seq = anyio.run(_discover, _config(specs, spawns=1))
        sequentials.append(wall)
        wall, ok_par = anyio.run(_discover, _config(specs, spawns=limit))
        parallels.append(wall)
        ok = min(ok, ok_seq, ok_par)
    sequential, parallel = _median(sequentials), _median(parallels)
    ideal = sequential / limit
    return {
        "upstreams": 16,
        "spawn_limit": limit,
        "runs": STDIO_RUNS,
        "succeeded": ok,
        "sequential_s": round(sequential, 3),
        "parallel_s": round(parallel, 3),
        "speedup": round(sequential / parallel, 3),
        "ideal_s": round(ideal, 3),
        "ratio_to_ideal": round(parallel / ideal, 3),
        "target_ratio_to_ideal": 1.25,
    }


EVERYTHING = (
    ROOT / ".thirdparty/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)


async def _sdk_loop(specs: list[ServerSpec]) -> float:
    started = time.perf_counter()
    for spec in specs:
        assert isinstance(spec.target, StdioTarget)
        params = StdioServerParameters(command=spec.target.command, args=list(spec.target.args))
        async with Client(params, mode="legacy", cache=None) as client:
            await client.list_tools()
    return time.perf_counter() - started


async def _sdk_concurrent(specs: list[ServerSpec], limit: int) -> float:
    """The SDK alone, every server at once under the engine's cap of live children."""
    limiter = anyio.CapacityLimiter(limit)

    async def one(spec: ServerSpec) -> None:
        assert isinstance(spec.target, StdioTarget)
        params = StdioServerParameters(command=spec.target.command, args=list(spec.target.args))
        async with limiter, Client(params, mode="legacy", cache=None) as client:
            await client.list_tools()

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(one, spec)
    return time.perf_counter() - started


def _cpu() -> float:
    """CPU seconds of this process and its finished children so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _workload(kind: str) -> list[ServerSpec]:
    if kind == "minimal":
        return _stdio_specs(8)
    # server-everything over node: a realistic third-party server (~0.9 s per discovery).
    return [
        ServerSpec(
            name=f"everything{i}",
            target=StdioTarget("node", (str(EVERYTHING), "stdio", f"--id={i}")),
            timeout=60,
        )
        for i in range(8)
    ]


def _run_cli(specs: list[ServerSpec]) -> tuple[float, int]:
    lines = ["[gateways.bench]"]
    for spec in specs:
        assert isinstance(spec.target, StdioTarget)
        lines += [
            f"[gateways.bench.servers.{spec.name}]",
            f"command = {json.dumps(spec.target.command)}",
            f"args = {json.dumps(list(spec.target.args))}",
            'timeout = "60s"',
        ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "bench.toml")
        path.write_text("\n".join(lines) + "\n")
        cli = [sys.executable, "-m", "mcp_discoveryd", "discover", "--config", str(path), "--json"]
        started = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True, env=os.environ, check=False)
        wall = time.perf_counter() - started
    ok = json.loads(done.stdout)["discovery_success_servers"] if done.stdout else []
    return wall, len(ok)


def cli_vs_sdk_loop() -> dict[str, Any]:
    """The same 8 stdio servers: this CLI (a subprocess, imports included), the engine
    in-process, the SDK alone with the same concurrency (every server at once under the
    engine's cap of live children), and a one-at-a-time loop over the SDK. CPU seconds
    (this process and the servers) beside each in-process wall time."""
    results: dict[str, Any] = {}
    kinds = ["minimal"] + (["server_everything"] if EVERYTHING.exists() else [])
    cap = DiscoverySettings().max_concurrent_spawns
    for kind in kinds:
        specs = _workload(kind)
        cli_wall, cli_ok = _run_cli(specs)
        cpu = _cpu()
        engine_wall, engine_ok = anyio.run(_discover, _config(specs))
        engine_cpu, cpu = _cpu() - cpu, _cpu()
        concurrent = anyio.run(_sdk_concurrent, specs, cap)
        concurrent_cpu, cpu = _cpu() - cpu, _cpu()
        sdk = anyio.run(_sdk_loop, specs)
        results[kind] = {
            "upstreams": len(specs),
            "cli_s": round(cli_wall, 3),
            "cli_succeeded": cli_ok,
            "engine_s": round(engine_wall, 3),
            "engine_cpu_s": round(engine_cpu, 3),
            "engine_succeeded": engine_ok,
            "sdk_concurrent_s": round(concurrent, 3),
            "sdk_concurrent_cpu_s": round(concurrent_cpu, 3),
            "engine_vs_sdk_concurrent": round(engine_wall / concurrent, 3),
            "sdk_sequential_loop_s": round(sdk, 3),
            "cli_speedup": round(sdk / cli_wall, 3),
            "engine_speedup": round(sdk / engine_wall, 3),
        }
    return results


def collect() -> dict[str, Any]:
    """Every discovery figure, as one JSON-ready object."""
    return {
        "remote_fanout": remote_fanout(),
        "stdio_limiter": stdio_limiter(),
        "cli_vs_sdk_loop": cli_vs_sdk_loop(),
        "cpu_count": os.cpu_count(),
    }


SECTIONS = {
    "remote_fanout": remote_fanout,
    "stdio_limiter": stdio_limiter,
    "cli_vs_sdk_loop": cli_vs_sdk_loop,
}


def main() -> None:
    wanted = sys.argv[1:]
    if not wanted:
        print(json.dumps(collect(), indent=2))
        return
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")
    report: dict[str, Any] = {name: SECTIONS[name]() for name in wanted}
    report["cpu_count"] = os.cpu_count()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
