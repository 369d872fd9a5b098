"""Stdio spawn admission and CLI start (issue 9). Prints one JSON object.

    .venv/bin/python -m tests.bench.bench_admission

1. mixes: three stdio mixes, each run with the fixed limit of earlier versions
   (``count``, cap = cores), unbounded spawning (``count``, cap = 1000) and the
   CPU admission (the defaults), interleaved in one run:
   - ``cpu``: SDK-built Python servers (about a second of CPU each to start);
   - ``io``: the raw server sleeping 0.25-2 s before it serves (``npx``/``uvx``
     fetching packages);
   - ``hang``: the ``cpu`` servers plus one that never answers (first in line).
   The ideal per mix is max(sum of each server's CPU time measured alone /
   cores, the slowest server alone); the hang is left out of it (its time is
   its deadline). ``wall_s`` of the hang mix is when the last good server is
   done. CPU per server (children's user+sys, measured alone) is reported.
   Beside it, ``ideal_with_parent_s`` also counts this process's own CPU for
   each server measured alone (spawn, session, listing: work the same cores
   do), and each run reports the CPU it really took: this process's
   (``parent_cpu_s``, the admission's sampling included) and the servers'
   (``servers_cpu_s``), which grows when they share the cores (caches, the
   hypervisor) and bounds what any order of spawns can reach; ``cores_busy``
   is the share of the cores' time the run used.
2. cli_first_spawn: from the CLI's process start to its first child's start,
   the child's own interpreter start taken out (measured alone the same way).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from mcp_discoveryd.config.settings import DiscoverySettings
from mcp_discoveryd.discovery.admission import available_cores
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, StdioTarget, UpstreamResult

ROOT = Path(__file__).resolve().parents[2]
RAW = str(ROOT / "tests" / "servers" / "raw_server.py")
SDK = str(ROOT / "tests" / "servers" / "sdk_servers.py")
CORES = available_cores()
HANG_TIMEOUT = 15.0
TARGETS = {"ratio_to_ideal": 1.15, "ratio_to_unbounded": 1.05}


def _sdk(i: int) -> ServerSpec:
    target = StdioTarget(sys.executable, (SDK, "high", f"--id={i}"))
    return ServerSpec(f"cpu{i}", target, timeout=60)


def _sleepy(i: int, n: int) -> ServerSpec:
    start_ms = 250 + (1750 * i) // max(1, n - 1)  # 0.25 s to 2 s, spread evenly
    target = StdioTarget(sys.executable, (RAW, "--start-ms", str(start_ms)))
    return ServerSpec(f"io{i}", target, timeout=60)


def _hang() -> ServerSpec:
    return ServerSpec("hang", StdioTarget(sys.executable, (RAW, "--hang")), timeout=HANG_TIMEOUT)


MIXES: dict[str, list[ServerSpec]] = {
    "cpu": [_sdk(i) for i in range(10)],
    "io": [_sleepy(i, 12) for i in range(12)],
    "hang": [_hang()] + [_sdk(i) for i in range(8)],
}
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # per policy and mix
POLICIES: dict[str, DiscoverySettings] = {
    "fixed_limit": DiscoverySettings(max_concurrent_spawns=CORES, spawn_admission="count"),
    "unbounded": DiscoverySettings(max_concurrent_spawns=1000, spawn_admission="count"),
    "admission": DiscoverySettings(),
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run(settings: DiscoverySettings, specs: list[ServerSpec]) -> dict[str, Any]:
    """Fetch every spec at once under ``settings``; per-server results and finish times."""
    results: dict[str, UpstreamResult] = {}
    done: dict[str, float] = {}
    own_cpu, children_cpu = _own_cpu(), _children_cpu()
    async with UpstreamClient(settings) as client:
        started = time.perf_counter()

        async def one(spec: ServerSpec) -> None:
            results[spec.name] = await client.fetch(spec)
            done[spec.name] = time.perf_counter() - started

        async with anyio.create_task_group() as tg:
            for spec in specs:
                tg.start_soon(one, spec)
        peak = client.spawn_stats.peak
    good = [s for s in specs if s.name != "hang"]
    return {
        "wall_s": round(max(done[s.name] for s in good), 3),
        "succeeded": sum(1 for s in good if results[s.name].ok),
        "within_deadline": all(
            results[s.name].ok and results[s.name].durations["total"] < s.timeout for s in good
        ),
        "max_queued_s": round(max(r.durations.get("queue", 0.0) for r in results.values()), 3),
        "hang_queued_s": (
            round(results["hang"].durations.get("queue", 0.0), 3) if "hang" in results else None
        ),
        "peak_live": peak,
        "parent_cpu_s": round(_own_cpu() - own_cpu, 3),
        "servers_cpu_s": round(_children_cpu() - children_cpu, 3),
    }


def _alone(spec: ServerSpec) -> tuple[float, float, float]:
    """One server by itself: its wall time, its process tree's CPU time and ours."""
    result = anyio.run(_run, POLICIES["unbounded"], [spec])
    if not result["succeeded"]:
        raise RuntimeError(f"{spec.name} failed when run alone")
    return result["wall_s"], result["servers_cpu_s"], result["parent_cpu_s"]


def mix(name: str, specs: list[ServerSpec]) -> dict[str, Any]:
    """One mix: each server alone, then every policy on the whole mix."""
    good = [s for s in specs if s.name != "hang"]
    _alone(good[0])  # warm-up: the SDK's imports are not a server's CPU
    alone = {s.name: _alone(s) for s in good}
    cpu_total = sum(cpu for _wall, cpu, _own in alone.values())
    parent_total = sum(own for _wall, _cpu, own in alone.values())
    slowest = max(wall for wall, _cpu, _own in alone.values())
    ideal = max(cpu_total / CORES, slowest)
    ideal_with_parent = max((cpu_total + parent_total) / CORES, slowest)
    # Interleaved rounds, the median round kept per policy: one run each is at the mercy
    # of a noisy moment on a shared machine.
    rounds: dict[str, list[dict[str, Any]]] = {policy: [] for policy in POLICIES}
    for _ in range(ROUNDS):
        for policy, settings in POLICIES.items():
            rounds[policy].append(anyio.run(_run, settings, specs))
    runs = {
        policy: {**sorted(done, key=lambda r: r["wall_s"])[len(done) // 2], "rounds": len(done)}
        for policy, done in rounds.items()
    }
    for run in runs.values():
        run["ratio_to_ideal"] = round(run["wall_s"] / ideal, 3)
        run["ratio_to_ideal_with_parent"] = round(run["wall_s"] / ideal_with_parent, 3)
        run["parent_cpu_per_server_ms"] = round(1000 * run["parent_cpu_s"] / len(specs), 1)
        run["servers_cpu_vs_alone"] = round(run["servers_cpu_s"] / cpu_total, 3)
        # Share of the cores' time this run's processes used until its last good server was
        # done (the hang's deadline after that is idle): under 1.0, cores idled or others ran.
        used = run["parent_cpu_s"] + run["servers_cpu_s"]
        run["cores_busy"] = round(used / (run["wall_s"] * CORES), 3)
    new = runs["admission"]
    new["ratio_to_unbounded"] = round(new["wall_s"] / runs["unbounded"]["wall_s"], 3)
    return {
        "servers": len(specs),
        "cpu_per_server_s": {n: round(cpu, 3) for n, (_wall, cpu, _own) in alone.items()},
        "parent_cpu_per_server_ms": {
            n: round(1000 * own, 1) for n, (_wall, _cpu, own) in alone.items()
        },
        "wall_alone_s": {n: round(wall, 3) for n, (wall, _cpu, _own) in alone.items()},
        "cpu_total_s": round(cpu_total, 3),
        "parent_cpu_total_s": round(parent_total, 3),
        "ideal_s": round(ideal, 3),
        "ideal_with_parent_s": round(ideal_with_parent, 3),
        **runs,
    }


def _first_mark(timeline: Path, deadline: float = 30.0) -> int:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if timeline.exists() and (text := timeline.read_text()).strip():
            return int(text.split()[1])
        time.sleep(0.01)
    raise RuntimeError("the stdio child never started")


def cli_first_spawn(runs: int = 5) -> dict[str, Any]:
    """Process start of the CLI to its first child's start (median of ``runs``)."""
    samples: list[float] = []
    child_alone: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        timeline = Path(tmp, "timeline")
        config = Path(tmp, "first.toml")
        config.write_text(
            "[gateways.bench.servers.first]\n"
            f"command = {json.dumps(sys.executable)}\n"
            f"args = {json.dumps([RAW, '--timeline', str(timeline)])}\n"
        )
        cli = [sys.executable, "-m", "mcp_discoveryd", "discover", "--config", str(config)]
        for _ in range(runs):
            timeline.unlink(missing_ok=True)
            started = time.monotonic_ns()
            subprocess.run(cli, capture_output=True, check=False, env=os.environ)
            samples.append((_first_mark(timeline) - started) / 1e9)
            timeline.unlink()
            started = time.monotonic_ns()
            subprocess.run(
                [sys.executable, RAW, "--timeline", str(timeline), "--exit-code", "0"], check=False
            )
            child_alone.append((_first_mark(timeline) - started) / 1e9)
    first, child = sorted(samples)[runs // 2], sorted(child_alone)[runs // 2]
    return {
        "runs": runs,
        "cli_to_child_mark_s": round(first, 3),
        "child_own_start_s": round(child, 3),
        "time_to_first_spawn_s": round(first - child, 3),
        "target_s": 0.4,
    }


def collect() -> dict[str, Any]:
    """Every admission figure, as one JSON-ready object."""
    return {
        "cores": CORES,
        "load_average_at_start": os.getloadavg(),  # other work on the machine skews every figure
        "targets": TARGETS,
        "hang_timeout_s": HANG_TIMEOUT,
        "mixes": {name: mix(name, specs) for name, specs in MIXES.items()},
        "cli_first_spawn": cli_first_spawn(),
    }


def main() -> None:
    print(json.dumps(collect(), indent=2))


if __name__ == "__main__":
    main()
