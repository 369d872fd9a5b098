"""Cost of telemetry (issue 12): discovery and catalog reads with OTLP export on and off.

    .venv/bin/python -m tests.bench.bench_telemetry [--servers 10] [--rounds 5]

One run measures both modes, interleaved round by round (off, on, off, on, ...) so a
machine's drift hits both alike. Each round starts a daemon over N real stdio servers
(tests/servers/raw_server.py, 20 tools each), then times:

- ``discover_s``: ``DaemonApi.discover(refresh=True)`` of every server (spawn, list,
  guardrails, cache record; with export on: the metrics and the spans of each);
- ``read_us``: one cache read that counts (``Cache.catalog``: the lookup, the
  hit/stale/miss counter, and with export on the OTel counter), per call;
- ``snapshot_read_us``: ``DaemonApi.catalog`` (the gateway's read path: no counting).

Export on means a real OTLP http/protobuf receiver (tests/telemetry/receiver.py)
taking an export every second. Medians over rounds; ``overhead`` is on/off - 1
(target: at most 0.05).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from tests.telemetry.receiver import HttpReceiver

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

RAW = str(Path(__file__).resolve().parents[1] / "servers" / "raw_server.py")
READS = 20_000


def _config(where: Path, servers: int, endpoint: str | None) -> Path:
    lines = ['[cache]\nmin_ttl = "0s"\n']
    if endpoint:
        lines.append(f'[telemetry]\nendpoint = "{endpoint}"\ninterval = "1s"\n')
    for n in range(servers):
        lines.append(f"[gateways.g.servers.s{n}]")
        lines.append(f"command = {json.dumps(sys.executable)}")
        lines.append(f"args = {json.dumps([RAW, '--tools', '20'])}\n")
    path = where / ("on.toml" if endpoint else "off.toml")
    path.write_text("\n".join(lines))
    return path


async def _round(path: Path) -> dict[str, float]:
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        started = time.perf_counter()
        report = await api.discover("g", refresh=True)
        discover = time.perf_counter() - started
        assert all(o.ok for o in report.outcomes)
        spec = daemon.config.gateways[0].servers[0]
        started = time.perf_counter()
        for _ in range(READS):
            await daemon.cache.catalog("g", spec)
        read = (time.perf_counter() - started) / READS
        started = time.perf_counter()
        for _ in range(READS):
            api.catalog("g", spec.name)
        snapshot = (time.perf_counter() - started) / READS
    return {"discover_s": discover, "read_us": read * 1e6, "snapshot_read_us": snapshot * 1e6}


async def measure(servers: int, rounds: int) -> dict[str, Any]:
    """Both modes, interleaved; medians and the overhead of export on."""
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp, HttpReceiver().running() as rx:
        paths = {
            "off": _config(Path(tmp), servers, None),
            "on": _config(Path(tmp), servers, rx.url),
        }
        for _ in range(rounds):
            for mode in ("off", "on"):
                runs[mode].append(await _round(paths[mode]))
        exported = len(rx.received.metrics)
    medians = {
        mode: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for mode, results in runs.items()
    }
    overhead = {key: medians["on"][key] / medians["off"][key] - 1 for key in medians["off"]}
    return {
        "servers": servers,
        "rounds": rounds,
        "off": medians["off"],
        "on": medians["on"],
        "overhead": overhead,
        "exports_received": exported,
        "target_overhead": 0.05,
    }


def collect(servers: int = 10, rounds: int = 5) -> dict[str, Any]:
    """The figures as a JSON-ready dict."""
    return anyio.run(measure, servers, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(collect(args.servers, args.rounds), indent=2))


if __name__ == "__main__":
    main()
