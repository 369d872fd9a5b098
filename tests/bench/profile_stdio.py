"""The discovering process's own CPU per stdio server, and where it goes. Prints one JSON object.

    .venv/bin/python -m tests.bench.profile_stdio [--servers 16] [--rounds 5] [--kind raw|sdk]
        [--profile FILE]

Fetches N stdio servers (``raw``: the minimal standard-library server; ``sdk``:
the SDK-built one of the admission benchmark's CPU-bound mix) at once through ``UpstreamClient`` (unbounded
spawning, so the admission's own polling is measured by the ``admission`` row),
after one warm-up round that pays the SDK's imports. Reports this process's
CPU (user+sys, ``RUSAGE_SELF``) per server under each policy, median of the
rounds; with ``--profile``, a cProfile of the unbounded rounds is written to
FILE (read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from mcp_discoveryd.config.settings import DiscoverySettings
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, StdioTarget

ROOT = Path(__file__).resolve().parents[2]
RAW = str(ROOT / "tests" / "servers" / "raw_server.py")
SDK = str(ROOT / "tests" / "servers" / "sdk_servers.py")
POLICIES = {
    "unbounded": DiscoverySettings(max_concurrent_spawns=1000, spawn_admission="count"),
    "admission": DiscoverySettings(),
}


def _specs(n: int, kind: str) -> list[ServerSpec]:
    args = (RAW,) if kind == "raw" else (SDK, "high")
    return [
        ServerSpec(f"{kind}{i}", StdioTarget(sys.executable, (*args, f"--id={i}")), timeout=60)
        for i in range(n)
    ]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run(settings: DiscoverySettings, specs: list[ServerSpec]) -> None:
    async with UpstreamClient(settings) as client, anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(client.fetch, spec)


def measure(servers: int, rounds: int, kind: str, profile: str | None) -> dict[str, Any]:
    """Parent CPU per server under each policy (median of ``rounds``)."""
    specs = _specs(servers, kind)
    anyio.run(_run, POLICIES["unbounded"], specs)  # warm-up: imports, caches
    samples: dict[str, list[float]] = {name: [] for name in POLICIES}
    profiler = cProfile.Profile(time.process_time) if profile else None
    for _ in range(rounds):
        for name, settings in POLICIES.items():
            before = _cpu()
            if profiler is not None and name == "unbounded":
                profiler.enable()
            anyio.run(_run, settings, specs)
            if profiler is not None:
                profiler.disable()
            samples[name].append((_cpu() - before) / servers)
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    return {
        "servers": servers,
        "kind": kind,
        "rounds": rounds,
        "parent_cpu_per_server_ms": {
            name: round(1000 * statistics.median(values), 2) for name, values in samples.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kind", choices=("raw", "sdk"), default="raw")
    parser.add_argument("--profile")
    args = parser.parse_args()
    print(json.dumps(measure(args.servers, args.rounds, args.kind, args.profile), indent=2))


if __name__ == "__main__":
    main()
