"""Many MCP upstreams in one process: each URL `/mcp?upstream=N` answers `tools/list` after a delay.

    python -m tests.bench.slow_http_server PORT DELAY_SECONDS [stateful|stateless|raw]

"stateful" (the default) is the SDK's server keeping a session per client and
answering over SSE, as most servers do; "stateless" is the SDK's server
answering plain JSON and keeping no session; "raw" is a standard-library
server with sessions and JSON replies (raw_http_server.py), cheap enough that
the one process hardly competes with the client for the machine.

`GET /cpu` reports this process's CPU seconds so far and at the arrival of the
latest `tools/list`, and that arrival's time (`time.monotonic`, one clock for
every process here): the benchmark uses them to show how much of a run's wall
time this one server process (standing in for many servers) spent on its own,
and how long the client took after the last delay ended.
"""

from __future__ import annotations

import asyncio
import sys
import time

import anyio
import uvicorn
from mcp import types
from mcp.server import Server, ServerRequestContext
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOOLS = [
    types.Tool(
        name=f"tool_{i}",
        description=f"Benchmark tool {i}.",
        input_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
    )
    for i in range(10)
]


class CpuClock:
    """CPU seconds of this process when the latest `tools/list` arrived, and when (monotonic)."""

    last_list = 0.0
    last_list_at = 0.0

    @classmethod
    def mark(cls) -> None:
        """A `tools/list` arrived."""
        cls.last_list, cls.last_list_at = time.process_time(), time.monotonic()

    @classmethod
    async def report(cls, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "cpu_s": time.process_time(),
                "last_list_cpu_s": cls.last_list,
                "last_list_at": cls.last_list_at,
            }
        )


def build(delay: float) -> Server:
    """A low-level server whose tools/list waits `delay` seconds, like a slow upstream."""

    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        CpuClock.mark()
        await anyio.sleep(delay)
        return types.ListToolsResult(tools=TOOLS)

    return Server("slow-bench", on_list_tools=list_tools)


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "stateful"
    if mode == "raw":
        from .raw_http_server import serve

        return asyncio.run(serve(port, delay))
    stateless = mode == "stateless"
    app = build(delay).streamable_http_app(
        stateless_http=stateless,
        json_response=stateless,
        custom_starlette_routes=[Route("/cpu", CpuClock.report, methods=["GET"])],
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
