"""MCP tools on the control socket (issue 11, item 5): one JSON object out.

    .venv/bin/python -m tests.bench.bench_mcp [--calls 500]

A real daemon on one raw stdio server of 50 tools; its /mcp served by uvicorn
(httptools) on a Unix socket. ``get_catalog`` of the 50 tools is timed three ways,
one call at a time: a plain HTTP POST per call (what a gateway's minimal client
sends), an ``mcp.Client`` over streamable HTTP, and an ``mcp.Client`` through the
stdio bridge (``mcp-discoveryd mcp``, a child process). p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from tests.actors.support import write_config
from tests.control.mcp_support import ADMIN, mcp_client, raw_call, served_daemon

DAEMON_SRC = str(Path(__file__).resolve().parents[2] / "daemon")


async def timed(calls: int, call: Callable[[], Awaitable[object]]) -> dict[str, float]:
    """p50/p99 of ``calls`` sequential calls, in ms (after 20 warm-up calls)."""
    for _ in range(20):
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(cuts[49], 3), "p99_ms": round(cuts[98], 3), "calls": calls}


async def run(calls: int) -> dict[str, object]:
    """Every figure, as a JSON-ready dict."""
    with tempfile.TemporaryDirectory(prefix="bm") as directory:
        return await _run(Path(directory), calls)


async def _run(tmp: Path, calls: int) -> dict[str, object]:
    config = write_config(tmp / "d.toml", {"fifty": ["--tools", "50"]})
    args = {"server_name": "fifty"}
    async with served_daemon(tmp, {"admin": ADMIN}, config=config) as served:
        path = served.sockets["admin"]
        transport = httpx2.AsyncHTTPTransport(uds=path)
        async with httpx2.AsyncClient(transport=transport) as http:

            async def plain() -> object:
                return await raw_call(http, "get_catalog", args)

            raw = await timed(calls, plain)
        async with mcp_client(path, mode="legacy") as client:
            sdk = await timed(calls, lambda: client.call_tool("get_catalog", args))
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_discoveryd", "mcp", "--socket", path],
            env={"PYTHONPATH": DAEMON_SRC},
        )
        async with Client(params, cache=None, mode="legacy") as bridged:
            bridge = await timed(calls, lambda: bridged.call_tool("get_catalog", args))
    return {
        "tools": 50,
        "cpus": os.cpu_count(),
        "http_post": raw,
        "sdk_client": sdk,
        "stdio_bridge": bridge,
    }


def main() -> None:
    """Parse the arguments, run, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    options = parser.parse_args()
    print(json.dumps(anyio.run(run, options.calls), indent=2))


if __name__ == "__main__":
    main()
