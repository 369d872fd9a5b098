"""MCP servers built with the SDK: used in-process, over uvicorn (HTTP, SSE) and over stdio.

    python tests/servers/sdk_servers.py high      # the high-level server over stdio
    python tests/servers/sdk_servers.py paged N K # the paginated one over stdio

- ``build_high()``: an ``MCPServer`` with tools (one with an output schema,
  annotations, a title and ``_meta``), a prompt, a resource and a template.
- ``build_paged(...)``: a low-level ``Server`` with hundreds of tools served
  in small pages, optionally with a cursor that repeats, huge descriptions or
  a cache hint on tools/list, or a delay before each page.
"""

from __future__ import annotations

import sys

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from pydantic import BaseModel

HIGH_TOOLS = ("add", "echo", "weather")


class Forecast(BaseModel):
    """Structured output: gives the weather tool an output schema."""

    city: str
    celsius: float


def build_high() -> MCPServer:
    """Tools, prompts, a resource and a resource template, the way most Python servers look."""
    mcp = MCPServer("high-test", version="1.2.3", log_level="WARNING")

    @mcp.tool(annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool(title="Echo", meta={"example.com/owner": "tests"})
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @mcp.tool()
    def weather(city: str) -> Forecast:
        """Forecast for a city."""
        return Forecast(city=city, celsius=21.5)

    @mcp.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello {name}"

    @mcp.resource("res://readme", mime_type="text/plain")
    def readme() -> str:
        """The readme."""
        return "read me"

    @mcp.resource("res://item/{item_id}")
    def item(item_id: str) -> str:
        """One item."""
        return item_id

    return mcp


def build_paged(
    tools: int = 300,
    page: int = 7,
    *,
    repeat_cursor: bool = False,
    description_bytes: int = 0,
    ttl_ms: int | None = None,
    list_delay: float = 0.0,
) -> Server[object]:
    """A low-level server whose tools/list is paginated in small pages."""
    pad = "d" * description_bytes
    all_tools = [
        types.Tool(
            name=f"paged_{i:04d}",
            description=f"Paged tool {i}. {pad}",
            input_schema={"type": "object", "properties": {"i": {"type": "integer"}}},
        )
        for i in range(tools)
    ]

    async def list_tools(
        ctx: ServerRequestContext[object], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await anyio.sleep(list_delay)
        start = int(params.cursor) if params and params.cursor else 0
        if repeat_cursor:
            start = 0
        end = start + page
        more = end < len(all_tools)
        next_cursor = str(end) if more or repeat_cursor else None
        if ttl_ms is None:
            return types.ListToolsResult(tools=all_tools[start:end], next_cursor=next_cursor)
        return types.ListToolsResult(
            tools=all_tools[start:end], next_cursor=next_cursor, ttl_ms=ttl_ms, cache_scope="public"
        )

    return Server("paged-test", version="0.1.0", on_list_tools=list_tools)


async def _serve_stdio(server: Server[object]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    kind = sys.argv[1]
    if kind == "high":
        build_high().run("stdio")
    else:
        tools, page = int(sys.argv[2]), int(sys.argv[3])
        anyio.run(_serve_stdio, build_paged(tools, page))


if __name__ == "__main__":
    main()
