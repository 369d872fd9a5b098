"""Our streamable HTTP transport, against real SDK servers and hand-made misbehaving ones."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import types
from mcp.server import Server, ServerRequestContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.discovery.upstream_support import SLACK, fetch, tool_names
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high, build_paged

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.models import ErrorKind, ServerSpec


def remote(url: str, timeout: float = 10) -> ServerSpec:
    """A streamable HTTP spec."""
    return ServerSpec(name="remote", target=remote_target(url), timeout=timeout)


class _Recorder:
    """ASGI middleware remembering each HTTP request's method, client port and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []
        self.headers: list[dict[bytes, bytes]] = []

    @property
    def methods(self) -> list[str]:
        return [method for method, _ in self.seen]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["client"][1]))
            self.headers.append(dict(scope["headers"]))
        await self.app(scope, receive, send)


def _answering(body: bytes, content_type: str, status: int = 200) -> Starlette:
    """Answers every POST with ``body``; the handshake never gets further."""

    async def answer(request: Request) -> Response:
        return Response(body, status_code=status, media_type=content_type)

    return Starlette(routes=[Route("/mcp", answer, methods=["POST", "GET", "DELETE"])])


async def test_stateful_session_opens_no_get_stream_and_ends_with_delete() -> None:
    """Only POSTs then one DELETE reach a session server: no standalone GET stream."""
    recorder = _Recorder(build_high().streamable_http_app())
    async with serve_app(recorder) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert tool_names(result) == list(HIGH_TOOLS)
    assert "GET" not in recorder.methods
    # initialize, initialized, tools, prompts, resources, templates; then the session's end
    assert recorder.methods == ["POST"] * 6 + ["DELETE"]


async def test_session_id_and_protocol_version_follow_the_handshake() -> None:
    """Every request after initialize carries the server's session id and the agreed version."""
    recorder = _Recorder(build_high().streamable_http_app())
    async with serve_app(recorder) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert result.ok
    first, *later = recorder.headers
    assert b"mcp-session-id" not in first and b"mcp-protocol-version" not in first
    assert {h[b"mcp-session-id"] for h in later} == {h[b"mcp-session-id"] for h in later[:1]}
    assert {h.get(b"mcp-protocol-version") for h in later} == {b"2025-11-25"}
    assert {h[b"accept"] for h in recorder.headers} == {b"application/json, text/event-stream"}


async def test_stateless_server_gets_no_delete() -> None:
    """A server that gave no session id gets no DELETE (there is nothing to end)."""
    app = build_high().streamable_http_app(stateless_http=True, json_response=True)
    recorder = _Recorder(app)
    async with serve_app(recorder) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert tool_names(result) == list(HIGH_TOOLS)
    assert set(recorder.methods) == {"POST"}


@pytest.mark.parametrize("json_response", [False, True], ids=["sse", "json"])
async def test_json_and_event_stream_replies_are_both_parsed(json_response: bool) -> None:
    """The same paginated catalog arrives whole over SSE replies and over plain JSON replies."""
    app = build_paged(40, 7).streamable_http_app(json_response=json_response)
    async with serve_app(app) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert tool_names(result) == [f"paged_{i:04d}" for i in range(40)]


async def test_event_stream_replies_leave_the_connection_reusable() -> None:
    """SSE replies are read to their end, so the session does not need a connection per request."""
    recorder = _Recorder(build_high().streamable_http_app())
    async with serve_app(recorder) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert result.ok
    ports = {port for _, port in recorder.seen}
    assert len(ports) < len(recorder.seen) // 2  # 7 requests; closing each SSE reply would need 6


async def test_json_reply_past_the_cap_is_oversized() -> None:
    """A plain JSON reply far past the cap is cut off while it streams in: oversized_reply."""
    app = build_paged(300, 300, description_bytes=20_000).streamable_http_app(json_response=True)
    async with serve_app(app) as base:
        result, _ = await fetch(remote(f"{base}/mcp"), max_reply_bytes=100_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED
    assert "tools/list" in result.error.message


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>not an MCP server</html>", "text/html"),
        (b"{not json", "application/json"),
        (b'{"jsonrpc": "2.0", "id": 1, "result": 42, "extra": ', "application/json"),
        (b"id: 1\ndata: \n\n", "text/event-stream"),  # the stream ends with no answer
        (
            b'{"jsonrpc": "2.0", "method": "notifications/message", "params": {}}',
            "application/json",
        ),
    ],
    ids=["html", "bad-json", "truncated-json", "sse-without-answer", "json-not-an-answer"],
)
async def test_reply_that_is_not_json_rpc_is_a_protocol_error(
    body: bytes, content_type: str
) -> None:
    """A 200 whose body carries no JSON-RPC answer ends the session as protocol_error."""
    async with serve_app(_answering(body, content_type)) as base:
        result, elapsed = await fetch(remote(f"{base}/mcp"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "handshake" in result.error.message
    assert elapsed < SLACK  # reported at once, not at the deadline


async def test_request_answered_with_202_is_a_protocol_error() -> None:
    """202 Accepted says no answer will come: the handshake fails at once instead of hanging."""
    async with serve_app(_answering(b"", "text/plain", status=202)) as base:
        result, elapsed = await fetch(remote(f"{base}/mcp"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "202" in result.error.message
    assert elapsed < SLACK


async def test_json_rpc_error_body_on_a_failing_status_is_reported_with_the_status() -> None:
    """A 400 carrying a JSON-RPC error keeps both the HTTP code and the server's message."""
    body = b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "bad origin"}}'
    async with serve_app(_answering(body, "application/json", status=400)) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert result.error is not None and result.error.kind is ErrorKind.HTTP_STATUS
    assert result.error.http_status == 400


def _cutting_server() -> ASGIApp:
    """A minimal MCP server whose SSE replies break off right after the answer event.

    A fake on purpose: no real server cuts its streams, and this one does it on every reply.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        message = json.loads(body or b"{}")
        if "id" not in message:  # a notification (or the DELETE): nothing to answer
            await Response(status_code=202)(scope, receive, send)
            return
        result: dict[str, object] = {"tools": []}
        if message["method"] == "initialize":
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "cutter", "version": "1"},
            }
        answer = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        data = b"event: message\ndata: " + json.dumps(answer).encode() + b"\n\n"
        await send({"type": "http.response.body", "body": data, "more_body": True})
        raise RuntimeError("connection cut after the answer")  # uvicorn drops the connection

    return app


async def test_stream_cut_after_the_answer_does_not_fail_the_session() -> None:
    """A reply stream that breaks after its answer costs the connection, not the discovery."""
    async with serve_app(_cutting_server()) as base:
        result, _ = await fetch(remote(f"{base}/mcp"))
    assert result.ok, result.error
    assert result.server_info == {"name": "cutter", "version": "1"}


def _redirecting(inner: ASGIApp, location: str) -> ASGIApp:
    """Sends POSTs to /old on to ``location`` (307); everything else goes to ``inner``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/old":
            await Response(status_code=307, headers={"location": location})(scope, receive, send)
        else:
            await inner(scope, receive, send)

    return app


async def test_same_origin_redirect_is_followed() -> None:
    """A 307 to another path of the same server (a moved endpoint) is followed for every request."""
    async with serve_app(_redirecting(build_high().streamable_http_app(), "/mcp")) as base:
        result, _ = await fetch(remote(f"{base}/old"))
    assert tool_names(result) == list(HIGH_TOOLS)


async def test_redirect_to_another_origin_is_not_followed() -> None:
    """A 307 to another host is refused: the server's headers must not travel elsewhere."""
    app = _redirecting(build_high().streamable_http_app(), "http://127.0.0.2:9/mcp")
    async with serve_app(app) as base:
        result, _ = await fetch(remote(f"{base}/old"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "127.0.0.2:9/mcp not followed" in result.error.message


def _hanging_tools() -> Server:
    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return Server("hangs", on_list_tools=list_tools)


@pytest.mark.slow
async def test_no_delete_once_the_deadline_has_passed() -> None:
    """A session cut off by its deadline is abandoned at once: no DELETE past the deadline."""
    recorder = _Recorder(_hanging_tools().streamable_http_app())
    async with serve_app(recorder) as base:
        result, elapsed = await fetch(remote(f"{base}/mcp", timeout=1))
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "tools/list" in result.error.message
    assert elapsed < 1 + SLACK
    assert recorder.methods == ["POST"] * 3
