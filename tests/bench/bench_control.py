"""Control socket (issue 11): catalog reads and status, one JSON object out.

    .venv/bin/python -m tests.bench.bench_control [--seconds 3] [--entries 10000]

- Catalog read of a server with 50 rich tools (``GET /v1/servers/s0/catalog``) through a
  real daemon's control socket, at 1 and 8 kept-alive connections: p50, p99, req/s,
  and the daemon's CPU per request. Beside it, in the same run and the same event loop,
  a raw Unix-socket echo (no HTTP, no app): the floor of a request over a Unix socket;
  and a raw server answering as many bytes as the catalog answer (the floor of moving them).
  The load comes from a separate process (tests/bench/control_client.py) with
  pre-built requests. The daemon runs on uvloop, as ``run`` does.
- Status of a daemon holding 10,000 entries: ``DaemonApi.status`` in process, and
  ``GET /v1/status`` over the socket (JSON encoding and transfer included).

Upstreams are the in-process fake at the ``Fetcher`` seam (no latency): the socket is
measured, not discovery. Targets: p50 at most 4x the echo's; at least 8,000 req/s at 8
connections; status under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
from tests.bench.daemon_parts import LatencyFake, daemon_config, fake_specs, rich_tools
from tests.cache.builders import entry
from tests.control.support import short_dir

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config.settings import CacheSettings, ControlSettings, DaemonConfig
from mcp_discoveryd.control.activation import open_listener
from mcp_discoveryd.control.server import serve_control

TARGET_RATIO = 4.0
TARGET_RPS_8 = 8_000
TARGET_STATUS_MS = 100.0
_REQUEST = b"GET /v1/servers/s0/catalog HTTP/1.1\r\nhost: d\r\n\r\n"  # control_client's


class Echo(asyncio.Protocol):
    """The raw socket's floor: writes back what it reads, or a fixed answer per read."""

    def __init__(self, answer: bytes | None = None) -> None:
        self.answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.answer if self.answer is not None else data)


def configured(directory: Path, servers: int, tools: int) -> tuple[DaemonConfig, LatencyFake]:
    """A daemon config of ``servers`` fake servers with ``tools`` rich tools each."""
    config = daemon_config(fake_specs(servers), CacheSettings(max_entries=servers + 10))
    control = ControlSettings(socket=str(directory / "c.sock"), max_connections_per_peer=64)
    fake = LatencyFake(latency=lambda _spec: 0.0, tools=rich_tools(tools))
    return dataclasses.replace(config, control=control), fake


async def _client(path: str, conns: int, seconds: float, echo: int = 0) -> dict[str, Any]:
    """Run the load generator in its own process; its figures and the daemon's CPU."""
    args = [sys.executable, "-m", "tests.bench.control_client", path]
    args += ["--conns", str(conns), "--seconds", str(seconds), "--echo", str(echo)]
    cpu = time.process_time()
    done = await anyio.run_process(args, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["server_cpu_us_per_req"] = round(
        (time.process_time() - cpu) / max(1, figures["requests"]) * 1e6, 1
    )
    return figures


async def _read_whole(path: str, target: bytes) -> int:
    """GET ``target`` on a new connection, read the whole answer; its size (head and body)."""
    async with await anyio.connect_unix(path) as stream:
        await stream.send(b"GET " + target + b" HTTP/1.1\r\nhost: d\r\n\r\n")
        chunks, got = [], 0
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive()
        head, _, body = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:80]
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        chunks.append(body)
        got = len(body)
        while got < length:
            chunk = await stream.receive(1 << 20)
            chunks.append(chunk)
            got += len(chunk)
        return len(head) + 4 + got


async def catalog_reads(seconds: float) -> dict[str, Any]:
    """Catalog reads and the echo floor at 1 and 8 connections."""
    with short_dir() as directory:
        config, fake = configured(directory, 1, 50)
        with open_listener(config.control, env={}) as listener:
            control = partial(serve_control, listener=listener)
            async with Daemon(config, fetcher=fake, services=[control]) as daemon:
                entry = DaemonApi(daemon).catalog("g", "s0")
                assert entry is not None and len(entry.catalog.tools) == 50
                loop = asyncio.get_running_loop()
                request = _REQUEST
                echo_path, sized_path = str(directory / "e.sock"), str(directory / "s.sock")
                answer = b"x" * await _read_whole(listener.path, b"/v1/servers/s0/catalog")
                echo = await loop.create_unix_server(Echo, echo_path)
                sized = await loop.create_unix_server(lambda: Echo(answer), sized_path)
                out: dict[str, Any] = {"loop": type(loop).__module__, "answer_bytes": len(answer)}
                try:
                    for conns in (1, 8):
                        floor = await _client(echo_path, conns, seconds, echo=len(request))
                        raw = await _client(sized_path, conns, seconds, echo=len(answer))
                        read = await _client(listener.path, conns, seconds)
                        out[f"conns_{conns}"] = {
                            "catalog": read,
                            "echo": floor,
                            "raw_same_size": raw,
                            "p50_ratio": round(read["p50_us"] / floor["p50_us"], 2),
                            "p50_ratio_same_size": round(read["p50_us"] / raw["p50_us"], 2),
                        }
                finally:
                    echo.close()
                    sized.close()
    one, eight = out["conns_1"], out["conns_8"]
    out["targets"] = {
        "p50_ratio_max": TARGET_RATIO,
        "req_per_s_at_8_min": TARGET_RPS_8,
        "met": max(one["p50_ratio"], eight["p50_ratio"]) <= TARGET_RATIO
        and eight["catalog"]["req_per_s"] >= TARGET_RPS_8,
    }
    return out


async def status(entries: int) -> dict[str, Any]:
    """Status of a daemon holding ``entries`` entries: in process, and over the socket.

    Each server has its actor, whose first discovery never ends (the fake waits an hour),
    and its entry is stored straight into the cache: a daemon reaching N entries through
    N discoveries spends minutes rebuilding the gateway's config entry after each one
    (quadratic; issue 10's part), which is not what this measures.
    """
    with short_dir() as directory:
        config, _ = configured(directory, entries, 5)
        daemon_settings = dataclasses.replace(config.daemon, ready="at-once", shutdown_timeout=0)
        config = dataclasses.replace(config, daemon=daemon_settings)
        never = LatencyFake(latency=lambda _spec: 3600.0)
        started = time.monotonic()
        with open_listener(config.control, env={}) as listener:
            control = partial(serve_control, listener=listener)
            async with Daemon(config, fetcher=never, services=[control]) as daemon:
                held = [entry("g", s.name, tools=5) for s in config.gateways[0].servers]
                await daemon.cache.put_many(held)
                ready_s = time.monotonic() - started
                api = DaemonApi(daemon)
                in_process = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    rows = len((await api.status())["servers"])
                    in_process.append(time.perf_counter() - t0)
                over_socket, size = [], 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    size = await _read_whole(listener.path, b"/v1/status")
                    over_socket.append(time.perf_counter() - t0)
                cached = sum(
                    1 for e in held if daemon.cache.lookup(e.cache_type, "g", e.server_name)
                )
    best_socket = min(over_socket) * 1000
    return {
        "entries": cached,
        "status_rows": rows,
        "daemon_ready_s": round(ready_s, 2),
        "in_process_ms": round(min(in_process) * 1000, 1),
        "over_socket_ms": round(best_socket, 1),
        "body_bytes": size,
        "target_ms": TARGET_STATUS_MS,
        "met": best_socket < TARGET_STATUS_MS,
    }


def collect(seconds: float = 3.0, entries: int = 10_000) -> dict[str, Any]:
    """Both benchmarks, on uvloop as the daemon runs; one JSON-ready object."""
    uvloop = {"use_uvloop": True}
    return {
        "catalog_read": anyio.run(catalog_reads, seconds, backend_options=uvloop),
        "status": anyio.run(status, entries, backend_options=uvloop),
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(collect(args.seconds, args.entries), indent=2))


if __name__ == "__main__":
    main()
