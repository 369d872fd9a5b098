"""The lean HTTP/1.1 transport: real sockets, real servers, kept-alive connections, httpx2's errors."""

from __future__ import annotations

import json
import resource
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.cache.redis_config import TlsFiles
from tests.cache.redis_tls import make_tls_files
from tests.conftest import require_binary
from tests.discovery.upstream_support import fetch, tool_names
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd import __version__
from mcp_discoveryd.discovery import http11
from mcp_discoveryd.discovery.http import Endpoint, HttpPool, HttpWatch, uses_proxies
from mcp_discoveryd.discovery.http11 import Http11Transport
from mcp_discoveryd.models import ErrorKind, RemoteTarget, ServerSpec

Handler = Callable[[anyio.abc.SocketStream], Awaitable[None]]
OK_REPLY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1."""
    require_binary("openssl", "openssl CLI (makes the TLS test certificates)")
    return make_tls_files(tmp_path)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never sends a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
async def transport() -> AsyncIterator[Http11Transport]:
    lean = Http11Transport(ssl.create_default_context())
    yield lean
    await lean.aclose()


@asynccontextmanager
async def scripted_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server running ``handler`` on each connection; yields its URL and a connection count."""
    connections: list[int] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve(stream: anyio.abc.SocketStream) -> None:
        connections.append(1)
        async with stream:
            await handler(stream)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            yield f"http://127.0.0.1:{port}/mcp", connections
        finally:
            tg.cancel_scope.cancel()


async def read_request(stream: anyio.abc.SocketStream) -> bytes:
    """One request's head (and its small body, if any); b"" once the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            data += await stream.receive()
        except anyio.EndOfStream:
            return b""
    return data


def answer_then_note_hang_up(hung_up: anyio.Event) -> Handler:
    """A server that answers one request, then sets ``hung_up`` once the client closes."""

    async def serve(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(OK_REPLY)
        if not await read_request(stream):
            hung_up.set()

    return serve


def echo_app() -> Starlette:
    """Answers with the client's port and user agent, so a test sees which connection was used."""

    async def echo(request: Request) -> JSONResponse:
        assert request.client is not None
        headers = request.headers
        return JSONResponse(
            {
                "port": request.client.port,
                "agent": headers.get("user-agent"),
                "team": headers.get("x-team"),
                "extra": headers.get("x-extra"),
            }
        )

    return Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])])


async def get(transport: Http11Transport, url: str, **timeouts: float) -> httpx2.Response:
    request = httpx2.Request("GET", url, extensions={"timeout": timeouts} if timeouts else {})
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


async def test_requests_to_one_origin_reuse_one_kept_alive_connection(
    transport: Http11Transport,
) -> None:
    async with serve_app(echo_app()) as base:
        first = (await get(transport, f"{base}/echo")).json()
        second = (await get(transport, f"{base}/echo")).json()
    assert first["port"] == second["port"]


async def test_a_body_left_unread_closes_its_connection(transport: Http11Transport) -> None:
    """Its state is unknown, so the next request takes a new connection."""
    async with serve_app(echo_app()) as base:
        first = (await get(transport, f"{base}/echo")).json()
        unread = await transport.handle_async_request(httpx2.Request("GET", f"{base}/echo"))
        await unread.aclose()
        third = (await get(transport, f"{base}/echo")).json()
    assert third["port"] != first["port"]


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    transport: Http11Transport,
) -> None:
    async def answer_once(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(OK_REPLY)  # then hang up, without saying so in a header

    async with scripted_server(answer_once) as (url, connections):
        assert (await get(transport, url)).text == "ok"
        await anyio.sleep(0.05)  # the server's close reaches the idle connection
        assert (await get(transport, url)).text == "ok"
    assert len(connections) == 2


async def test_a_reply_saying_connection_close_is_not_reused(transport: Http11Transport) -> None:
    async def answer_and_linger(stream: anyio.abc.SocketStream) -> None:
        while await read_request(stream):
            await stream.send(
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
            )

    async with scripted_server(answer_and_linger) as (url, connections):
        await get(transport, url)
        await get(transport, url)
    assert len(connections) == 2


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b", id="cut-short"),
        pytest.param(b"\x00\x01 not http at all\r\n\r\n", id="garbage"),
    ],
)
async def test_a_reply_cut_short_or_not_http_is_remote_protocol_error(
    transport: Http11Transport, reply: bytes
) -> None:
    async def answer_badly(stream: anyio.abc.SocketStream) -> None:
        await read_request(stream)
        await stream.send(reply)  # then hang up

    async with scripted_server(answer_badly) as (url, _):
        with anyio.fail_after(5), pytest.raises(httpx2.RemoteProtocolError):
            await get(transport, url)


async def test_a_silent_server_hits_the_read_timeout(
    transport: Http11Transport, silent_listener: int
) -> None:
    with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
        await get(transport, f"http://127.0.0.1:{silent_listener}/", read=0.1)


async def test_connecting_to_a_closed_port_is_connect_error(transport: Http11Transport) -> None:
    """Nothing listening: ConnectError (the upstream client reports connection_refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx2.ConnectError):
        await get(transport, f"http://127.0.0.1:{port}/", connect=5)


async def test_a_cancelled_exchange_leaves_no_connection_for_reuse(
    transport: Http11Transport,
) -> None:
    """A request cut off mid-exchange closes its connection; the next one gets a fresh one."""
    seen: list[int] = []

    async def stall_first(stream: anyio.abc.SocketStream) -> None:
        seen.append(1)
        if len(seen) == 1:
            await read_request(stream)
            await anyio.sleep_forever()
        while await read_request(stream):
            await stream.send(OK_REPLY)

    async with scripted_server(stall_first) as (url, connections):
        with anyio.move_on_after(0.2):
            await get(transport, url)
        assert (await get(transport, url)).text == "ok"
    assert len(connections) == 2


async def test_closing_the_transport_closes_its_idle_connections() -> None:
    hung_up = anyio.Event()

    lean = Http11Transport(ssl.create_default_context())
    async with scripted_server(answer_then_note_hang_up(hung_up)) as (url, _):
        await get(lean, url)
        await lean.aclose()
        with anyio.fail_after(5):
            await hung_up.wait()


async def test_an_endpoint_sends_the_servers_headers_and_names_the_daemon() -> None:
    """Configured headers and mcp-discoveryd's user agent; httpx2's client is not in the way."""
    pool = HttpPool(1024)
    try:
        async with serve_app(echo_app()) as base:
            target = RemoteTarget(f"{base}/echo", headers={"x-team": "blue"})
            endpoint = Endpoint(pool, target, HttpWatch(), 5)
            async with endpoint, endpoint.stream("POST", {"x-extra": "1"}, b"{}") as response:
                echoed = json.loads(await response.aread())
    finally:
        await pool.aclose()
    assert echoed["agent"] == f"mcp-discoveryd/{__version__}"
    assert echoed["team"] == "blue" and echoed["extra"] == "1"


async def test_https_upstream_is_listed_over_tls(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server behind a certificate from a CA the environment trusts: the whole catalog."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_path))
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        assert base.startswith("https://")
        spec = ServerSpec(name="tls", target=RemoteTarget(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS)


async def test_https_upstream_with_an_untrusted_certificate_is_refused(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CA, the handshake fails: an error naming the certificate, no catalog."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        spec = ServerSpec(name="tls", target=RemoteTarget(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert result.catalog is None and result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION_REFUSED, result.error
    assert "certificate" in result.error.message.lower(), result.error.message


async def test_a_proxy_named_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With HTTP_PROXY set, requests go to the proxy (absolute URL), not to the server."""
    lines: list[bytes] = []

    async def refusing_proxy(stream: anyio.abc.SocketStream) -> None:
        while request := await read_request(stream):
            lines.append(request.split(b"\r\n", 1)[0])
            await stream.send(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with scripted_server(refusing_proxy) as (proxy_url, _):
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/mcp"))
        assert uses_proxies()
        spec = ServerSpec(name="far", target=RemoteTarget("http://127.0.0.1:9/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert result.error is not None and result.error.kind is ErrorKind.HTTP_STATUS, result.error
    assert "502" in result.error.message
    assert lines and lines[0] == b"POST http://127.0.0.1:9/mcp HTTP/1.1"


async def test_connections_on_descriptors_past_1023_are_reused(transport: Http11Transport) -> None:
    """A busy daemon holds many descriptors; the idle check must not be limited to select's 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1200, hard), hard))
    fillers: list[socket.socket] = []
    try:
        async with serve_app(echo_app()) as base:
            # The lowest free descriptors are taken: the connection gets one past 1023.
            fillers += [socket.socket() for _ in range(1100)]
            first = (await get(transport, f"{base}/echo")).json()
            second = (await get(transport, f"{base}/echo")).json()
    finally:
        for filler in fillers:
            filler.close()
    assert first["port"] == second["port"]


async def test_a_server_addressed_by_name_is_reached(transport: Http11Transport) -> None:
    """Names go through anyio's resolver (IP addresses skip it)."""
    async with serve_app(echo_app()) as base:
        reply = await get(transport, base.replace("127.0.0.1", "localhost") + "/echo")
    assert reply.status_code == 200 and "port" in reply.json()


async def test_expired_idle_connections_of_other_origins_are_closed(
    transport: Http11Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server no request goes to any more does not keep its connection open forever."""
    monkeypatch.setattr(http11, "KEEPALIVE_EXPIRY", 0.05)
    hung_up = anyio.Event()

    async with (
        scripted_server(answer_then_note_hang_up(hung_up)) as (first, _),
        serve_app(echo_app()) as other,
    ):
        await get(transport, first)
        await anyio.sleep(0.1)
        await get(transport, f"{other}/echo")
        with anyio.fail_after(5):
            await hung_up.wait()
