"""The server's contract with the MCP endpoint: /mcp dispatched to the app given, with the
connection's peer in each request's scope, inside the lifespan given."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.control.support import TOOLS, control_config, served

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.control.http import Receive, Scope, Send
from mcp_discoveryd.control.peer import Peer, peer_of

pytestmark = pytest.mark.slow


class Recorder:
    """An ASGI app standing in for the MCP endpoint: records each scope's path and peer."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Peer | None]] = []
        self.lifespan: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((scope["path"], peer_of(scope)))
        body = json.dumps({"mcp": scope["path"]}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.lifespan.append("entered")
        try:
            yield
        finally:  # left by cancellation, as the daemon stops
            self.lifespan.append("left")


async def test_mcp_paths_reach_the_given_app_with_the_peer(sock_dir: Path) -> None:
    mcp = Recorder()
    config = control_config(sock_dir, {"a": TOOLS})
    async with served(config, mcp=mcp, mcp_lifespan=mcp.running()) as s:
        assert mcp.lifespan == ["entered"]
        http: Any = s.client._http
        for path in ("/mcp", "/mcp/", "/mcp/messages"):
            response = await http.post(path, content=b"{}")
            assert response.status_code == 200 and response.json() == {"mcp": path}
        assert (await http.get("/mcpx")).status_code == 404  # not under /mcp
        assert (await http.get("/v1/health")).status_code == 200  # the API is still ours
    assert mcp.lifespan == ["entered", "left"]
    assert [path for path, _ in mcp.seen] == ["/mcp", "/mcp/", "/mcp/messages"]
    peers = {peer for _, peer in mcp.seen}
    assert len(peers) == 1  # one connection, read once
    (peer,) = peers
    assert peer == Peer(pid=os.getpid(), uid=os.geteuid(), gid=os.getegid(), may_change=True)


class Endpoint:
    """What ``endpoint`` makes of the daemon's API: an app and its lifespan."""

    def __init__(self, api: DaemonApi) -> None:
        self.api = api
        self.recorder = Recorder()
        made.append(self)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.recorder(scope, receive, send)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        return self.recorder.running()


made: list[Endpoint] = []


async def test_an_endpoint_factory_gets_the_daemons_api(sock_dir: Path) -> None:
    made.clear()
    async with served(control_config(sock_dir, {"a": TOOLS}), endpoint=Endpoint) as s:
        response = await s.client._http.post("/mcp", content=b"{}")
        assert response.json() == {"mcp": "/mcp"}
        (endpoint,) = made
        assert endpoint.api.catalog("g", "a") is not None  # the running daemon's
        assert endpoint.recorder.lifespan == ["entered"]
    assert endpoint.recorder.lifespan == ["entered", "left"]
