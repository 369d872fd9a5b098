"""An SDK server whose tools change at run time and that says so, in both protocol eras.

``Changing`` wraps a low-level ``Server`` advertising ``tools.listChanged``:

- ``add_tool(name)`` adds a tool, then sends ``notifications/tools/list_changed`` on
  every classic session it knows (a session is known once it pinged: the daemon's
  watched sessions ping) and publishes ``ToolsListChanged`` to every 2026-07-28
  ``subscriptions/listen`` subscriber;
- ``lists`` counts tools/list requests (one per discovery: refreshes are counted).

``app()`` makes a fresh streamable HTTP app each time (an app's session manager runs
once), so a test can stop the server and start it again with the same tools.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
from mcp import types
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.sse import SseServerTransport
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class Changing:
    """A server with a mutable tool list that announces each change."""

    def __init__(self, tools: tuple[str, ...] = ("first",), *, list_delay: float = 0.0) -> None:
        self.tools = list(tools)
        self.list_delay = list_delay  # seconds tools/list takes, after reading the tools
        self.lists = 0
        self.sessions: list[Any] = []  # classic sessions that pinged (ServerSession)
        self.bus = InMemorySubscriptionBus()

    def app(self) -> ASGIApp:
        """A new streamable HTTP app over a new low-level server with the same tools."""
        return self._server().streamable_http_app()

    def sse_app(self) -> ASGIApp:
        """An SSE app (``/sse``, posts to ``/messages/``) over a new low-level server."""
        server = self._server()
        sse = SseServerTransport("/messages/")

        async def handle_sse(scope: Scope, receive: Receive, send: Send) -> None:
            async with sse.connect_sse(scope, receive, send) as (read, write):
                await server.run(read, write, server.create_initialization_options())

        return Starlette(
            routes=[
                Route("/sse", _Asgi(handle_sse)),
                Mount("/messages/", app=sse.handle_post_message),
            ]
        )

    def _server(self) -> Server[Any]:
        self.sessions = []
        server: Server[Any] = Server(
            "changing",
            version="0.1.0",
            on_list_tools=self._list_tools,
            on_ping=self._ping,
            on_subscriptions_listen=ListenHandler(self.bus),
        )
        # Over HTTP the capabilities come from a call with no arguments: advertise listChanged.
        server.create_initialization_options = functools.partial(  # type: ignore[method-assign]
            Server.create_initialization_options, server, NotificationOptions(tools_changed=True)
        )
        return server

    async def add_tool(self, name: str) -> None:
        """Add a tool and tell every watcher (classic sessions and listen subscribers)."""
        self.tools.append(name)
        await self.notify()

    async def notify(self) -> None:
        """Announce that the tools changed, without changing them."""
        for session in list(self.sessions):
            try:
                await session.send_tool_list_changed()
            except Exception:  # noqa: BLE001 - a closed session: forget it
                self.sessions.remove(session)
        await self.bus.publish(ToolsListChanged())

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self.lists += 1
        schema = {"type": "object", "properties": {}}
        tools = [
            types.Tool(name=n, description=f"Tool {n}.", input_schema=schema) for n in self.tools
        ]
        await anyio.sleep(self.list_delay)  # a change now is not in this answer
        return types.ListToolsResult(tools=tools)

    async def _ping(
        self, ctx: ServerRequestContext[Any], params: types.RequestParams | None
    ) -> types.EmptyResult:
        if ctx.session not in self.sessions:
            self.sessions.append(ctx.session)
        return types.EmptyResult()


class _Asgi:
    """A plain ASGI callable as a starlette route endpoint (a function would get a Request)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
