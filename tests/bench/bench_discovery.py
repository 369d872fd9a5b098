"""Discovery benchmarks (issue 2). Prints one JSON object.

    .venv/bin/python -m tests.bench.bench_discovery [SECTION ...]

SECTION is one of remote_fanout, stdio_limiter, cli_vs_sdk_loop (default: all).
The benchmarks import only ``UpstreamClient`` and ``run_discovery`` of the engine
(``discovery_runs.py`` finds the config's types in older trees too), so with
``PYTHONPATH=<other tree>/daemon`` they measure another engine.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from mcp_discoveryd.models import ServerSpec, StdioTarget

from .discovery_runs import ROOT, DiscoverySettings, config_of, discover, median
from .fanout import remote_fanout

DEMO_SERVER = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"


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
        wall, ok_seq = anyio.run(discover, config_of(specs, spawns=1))
        sequentials.append(wall)
        wall, ok_par = anyio.run(discover, config_of(specs, spawns=limit))
        parallels.append(wall)
        ok = min(ok, ok_seq, ok_par)
    sequential, parallel = median(sequentials), median(parallels)
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
        engine_wall, engine_ok = anyio.run(discover, config_of(specs))
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
