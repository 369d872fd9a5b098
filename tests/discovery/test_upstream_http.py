"""The upstream client over streamable HTTP and SSE, against uvicorn servers in the test."""

from __future__ import annotations

import socket
import time

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.discovery.upstream_support import SLACK, fetch, settings, tool_names
from tests.servers.http_harness import serve_app, status_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high, build_paged

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind, ServerSpec, Transport

TOKEN = "tok-9f8e7d6c5b4a"
MODES = pytest.mark.parametrize("mode", ["legacy", "auto"])
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}


def remote(url: str, transport: Transport = Transport.STREAMABLE_HTTP, **kw: object) -> ServerSpec:
    """A spec for a remote server."""
    return ServerSpec(name="remote", target=remote_target(url, transport, **kw), timeout=10)  # type: ignore[arg-type]


class _Recorder:
    """ASGI middleware remembering each request's Authorization header, client port and session."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, int, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            auth = headers.get(b"authorization", b"").decode()
            session = headers.get(b"mcp-session-id", b"").decode()
            self.seen.append((auth, scope["client"][1], session))
        await self.app(scope, receive, send)


@MODES
async def test_streamable_http_full_catalog(mode: str) -> None:
    """A high-level SDK server over streamable HTTP: every list, in the era the mode picks."""
    async with serve_app(build_high().streamable_http_app()) as base:
        result, _ = await fetch(remote(f"{base}/mcp"), mode=mode)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert result.catalog is not None
    weather = result.catalog.tools[2]
    assert weather["outputSchema"]["required"] == ["city", "celsius"]
    assert result.catalog.tools[0]["annotations"] == {"readOnlyHint": True, "openWorldHint": False}
    assert result.catalog.tools[1]["title"] == "Echo"
    assert result.catalog.tools[1]["_meta"] == {"example.com/owner": "tests"}
    assert [p["name"] for p in result.catalog.prompts] == ["greet"]
    assert [r["uri"] for r in result.catalog.resources] == ["res://readme"]
    assert [t["uriTemplate"] for t in result.catalog.resource_templates] == ["res://item/{item_id}"]
    assert result.protocol_version == ERAS[mode]
    assert result.server_info == {"name": "high-test", "version": "1.2.3"}
    assert result.capabilities is not None and "tools" in result.capabilities


@MODES
async def test_sse_full_catalog(mode: str) -> None:
    """The same server over the older SSE transport."""
    async with serve_app(build_high().sse_app()) as base:
        result, _ = await fetch(remote(f"{base}/sse", Transport.SSE), mode=mode)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert result.catalog is not None and len(result.catalog.resource_templates) == 1
    assert result.protocol_version == ERAS[mode]


async def test_paginated_low_level_server_over_http() -> None:
    """Three hundred tools in pages of seven arrive complete; no prompts/list is sent."""
    async with serve_app(build_paged(300, 7).streamable_http_app()) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert tool_names(result) == [f"paged_{i:04d}" for i in range(300)]
    assert "prompts/list" not in result.durations and "resources/list" not in result.durations


@MODES
async def test_cache_hint_recorded_only_when_sent(mode: str) -> None:
    """A 2026-07-28 server's ttlMs/cacheScope becomes a CacheHint; a legacy session has none."""
    async with serve_app(build_paged(20, 5, ttl_ms=90_000).streamable_http_app()) as base:
        result, _ = await fetch(remote(f"{base}/mcp"), mode=mode)
    assert result.ok
    if mode == "auto":
        assert result.cache_hint.ttl_s == 90.0 and not result.cache_hint.private
    else:
        assert result.cache_hint.ttl_s is None


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("transport", [Transport.STREAMABLE_HTTP, Transport.SSE])
async def test_http_status_is_reported_with_its_code(status: int, transport: Transport) -> None:
    """401 and 500 become http_status errors carrying the code; header values stay secret."""
    async with serve_app(status_app(status)) as base:
        spec = remote(
            f"{base}/mcp?api_key={TOKEN}", transport, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        result, _ = await fetch(spec)
    assert result.error is not None
    assert result.error.kind is ErrorKind.HTTP_STATUS
    assert result.error.http_status == status
    assert f"HTTP {status}" in result.error.message
    assert TOKEN not in result.error.message and "api_key" not in result.error.message


@pytest.mark.parametrize("transport", [Transport.STREAMABLE_HTTP, Transport.SSE])
async def test_connection_refused(transport: Transport) -> None:
    """Nothing listening on the port is connection_refused, without the URL's credentials."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the fetch: nobody listens
    result, _ = await fetch(remote(f"http://user:{TOKEN}@127.0.0.1:{port}/mcp", transport))
    assert result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION_REFUSED
    assert f"127.0.0.1:{port}/mcp" in result.error.message and TOKEN not in result.error.message


async def test_each_server_gets_its_own_headers_over_one_shared_pool() -> None:
    """Two servers' tokens never mix, and the second fetch reuses the first one's connection.

    The first session's DELETE may overlap the second session (closes run behind), so
    requests are told apart by session id, not by order.
    """
    recorder = _Recorder(build_high().streamable_http_app())
    async with serve_app(recorder) as base, UpstreamClient(settings()) as client:
        first = await client.fetch(remote(f"{base}/mcp", headers={"Authorization": "Bearer one"}))
        second = await client.fetch(remote(f"{base}/mcp", headers={"Authorization": "Bearer two"}))
    assert first.ok and second.ok
    handshakes = [auth for auth, _, session in recorder.seen if not session]
    assert handshakes == ["Bearer one", "Bearer two"]
    by_session: dict[str, set[str]] = {}
    ports: dict[str, set[int]] = {}
    for auth, port, session in recorder.seen:
        if session:
            by_session.setdefault(session, set()).add(auth)
            ports.setdefault(session, set()).add(port)
    assert sorted(by_session.values(), key=sorted) == [{"Bearer one"}, {"Bearer two"}]
    ports_first, ports_second = ports.values()
    assert ports_first & ports_second  # a kept-alive connection of the shared pool


async def test_catalog_past_the_size_cap_over_http() -> None:
    """A paginated catalog adding up past the cap is oversized_reply."""
    app = build_paged(200, 10, description_bytes=3000).streamable_http_app()
    async with serve_app(app) as base:
        result, _ = await fetch(remote(f"{base}/mcp"), max_reply_bytes=100_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED


async def test_one_http_reply_past_the_cap_is_cut_off() -> None:
    """A single reply far past the cap is refused while it streams in."""
    app = build_paged(300, 300, description_bytes=20_000).streamable_http_app()
    async with serve_app(app) as base:
        result, _ = await fetch(remote(f"{base}/mcp"), max_reply_bytes=100_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED
    assert "tools/list" in result.error.message


def _hanging_app() -> Starlette:
    async def hang(request: Request) -> Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return Starlette(routes=[Route("/mcp", hang, methods=["GET", "POST", "DELETE"])])


@pytest.mark.slow
async def test_http_server_that_never_answers_times_out() -> None:
    """A remote server that accepts but never answers is a timeout at the deadline."""
    async with serve_app(_hanging_app()) as base:
        spec = ServerSpec(name="slow", target=remote_target(f"{base}/mcp"), timeout=1)
        started = time.monotonic()
        result, _ = await fetch(spec)
        elapsed = time.monotonic() - started
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert elapsed < 1 + SLACK
