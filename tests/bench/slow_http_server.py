"""Many MCP upstreams in one process: each URL `/mcp?upstream=N` answers `tools/list` after a delay.

    python tests/bench/slow_http_server.py PORT DELAY_SECONDS [stateful|stateless]

"stateful" (the default) keeps a session per client and answers over SSE, as
most servers do; "stateless" answers plain JSON and keeps no session.
"""

from __future__ import annotations

import sys

import anyio
import uvicorn
from mcp import types
from mcp.server import Server, ServerRequestContext

TOOLS = [
    types.Tool(
        name=f"tool_{i}",
        description=f"Benchmark tool {i}.",
        input_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
    )
    for i in range(10)
]


def build(delay: float) -> Server:
    """A low-level server whose tools/list waits `delay` seconds, like a slow upstream."""

    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await anyio.sleep(delay)
        return types.ListToolsResult(tools=TOOLS)

    return Server("slow-bench", on_list_tools=list_tools)


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    stateless = len(sys.argv) > 3 and sys.argv[3] == "stateless"
    app = build(delay).streamable_http_app(stateless_http=stateless, json_response=stateless)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
