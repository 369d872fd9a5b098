"""The lean network stream under httpcore2's pools, on real sockets: httpcore2's behaviour kept."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpcore2
import pytest
from anyio.abc import SocketAttribute
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cache.redis_config import TlsFiles
from tests.cache.redis_tls import make_tls_files
from tests.conftest import require_binary
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import build_high

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.transports.client import Endpoint, HttpWatch, SharedClient
from mcp_discoveryd.discovery.transports.network import LeanBackend, LeanStream

Handler = Callable[[anyio.abc.SocketStream], Awaitable[None]]


@asynccontextmanager
async def _peer(handler: Handler) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; yields its port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        yield listener.extra(SocketAttribute.local_port)
        tg.cancel_scope.cancel()


async def _silent(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        await anyio.sleep_forever()


async def _echo_once(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        await stream.send(await stream.receive())


@settings(max_examples=25)
@given(chunks=st.lists(st.binary(min_size=1, max_size=3000), max_size=8))
def test_reads_return_every_byte_the_peer_sent_then_end_of_stream(chunks: list[bytes]) -> None:
    """Whatever the peer's writes, the reads put them back together, then b"" at its close."""

    async def send_all(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            for chunk in chunks:
                await stream.send(chunk)

    async def main() -> bytes:
        async with _peer(send_all) as port:
            stream = await LeanBackend().connect_tcp("127.0.0.1", port)
            received = b""
            while data := await stream.read(1024):
                received += data
            await stream.aclose()
            return received

    assert anyio.run(main) == b"".join(chunks)


async def test_a_write_is_echoed_and_no_write_is_made_of_nothing() -> None:
    """A round trip through the stream; an empty buffer sends nothing (the echo stays pending)."""
    async with _peer(_echo_once) as port:
        stream = await LeanBackend().connect_tcp("127.0.0.1", port)
        await stream.write(b"")
        await stream.write(b"ping")
        assert await stream.read(100) == b"ping"
        await stream.aclose()


async def test_a_silent_peer_times_out_a_read_as_httpcore2_does() -> None:
    """With a timeout the read raises ReadTimeout; the stream stays usable for aclose."""
    async with _peer(_silent) as port:
        stream = await LeanBackend().connect_tcp("127.0.0.1", port)
        with pytest.raises(httpcore2.ReadTimeout):
            await stream.read(100, timeout=0.05)
        await stream.aclose()


async def test_without_a_timeout_the_callers_deadline_cancels_a_read_unmapped() -> None:
    """No timeout of its own: the caller's cancel scope ends the read, as a cancellation."""
    async with _peer(_silent) as port:
        stream = await LeanBackend().connect_tcp("127.0.0.1", port)
        with anyio.move_on_after(0.05) as scope:
            await stream.read(100)
        assert scope.cancelled_caught
        await stream.aclose()


async def test_using_a_closed_stream_raises_httpcore2s_errors() -> None:
    """A read or a write after our own close: ReadError and WriteError, as the pool expects."""
    async with _peer(_silent) as port:
        stream = await LeanBackend().connect_tcp("127.0.0.1", port)
        await stream.aclose()
        with pytest.raises(httpcore2.ReadError):
            await stream.read(100)
        with pytest.raises(httpcore2.WriteError):
            await stream.write(b"x")


async def test_an_idle_connection_turns_readable_when_the_peer_closes_it() -> None:
    """The pool's check for a dropped keep-alive connection: False while idle, True once closed."""
    closed = anyio.Event()

    async def close_on_signal(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await closed.wait()

    async with _peer(close_on_signal) as port:
        stream = await LeanBackend().connect_tcp("127.0.0.1", port)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("socket") is not None
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert stream.get_extra_info("ssl_object") is None
        closed.set()
        for _ in range(500):  # the FIN's arrival is the kernel's: polled, as the pool does
            if stream.get_extra_info("is_readable"):
                break
            await anyio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True
        assert await stream.read(100) == b""
        await stream.aclose()


async def test_a_refused_or_slow_connect_raises_httpcore2s_connect_errors() -> None:
    """No listener: ConnectError; no time at all: ConnectTimeout."""
    async with _peer(_silent) as port:
        pass  # the port is free again
    with pytest.raises(httpcore2.ConnectError):
        await LeanBackend().connect_tcp("127.0.0.1", port)
    with pytest.raises(httpcore2.ConnectTimeout):
        await LeanBackend().connect_tcp("127.0.0.1", port, timeout=0)


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1."""
    require_binary("openssl", "openssl CLI (makes the TLS test certificates)")
    return make_tls_files(tmp_path)


async def test_start_tls_gives_a_lean_stream_or_a_connect_error(tls_files: TlsFiles) -> None:
    """Against a real TLS server: trusted, a lean stream with its SSL object; untrusted,
    ConnectError (the certificate), the socket closed."""
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        port = int(base.rsplit(":", 1)[1])
        trusted = ssl.create_default_context(cafile=str(tls_files.ca_path))
        plain = await LeanBackend().connect_tcp("127.0.0.1", port)
        secure = await plain.start_tls(trusted, server_hostname="127.0.0.1", timeout=5)
        assert isinstance(secure, LeanStream)
        assert secure.get_extra_info("ssl_object") is not None
        await secure.aclose()
        plain = await LeanBackend().connect_tcp("127.0.0.1", port)
        with pytest.raises(httpcore2.ConnectError, match="(?i)certificate"):
            await plain.start_tls(ssl.create_default_context(), "127.0.0.1", timeout=5)
        with pytest.raises(httpcore2.WriteError):
            await plain.write(b"x")


async def test_the_shared_client_opens_its_connections_through_the_lean_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests of several upstreams (several shards) all ride on lean streams."""
    opened: list[httpcore2.AsyncNetworkStream] = []
    connect = LeanBackend.connect_tcp

    async def counting(self: LeanBackend, host: str, port: int, **kwargs: Any) -> Any:
        stream = await connect(self, host, port, **kwargs)
        opened.append(stream)
        return stream

    monkeypatch.setattr(LeanBackend, "connect_tcp", counting)
    async with serve_app(build_high().streamable_http_app()) as base:
        shared = SharedClient(1 << 20)
        try:
            for i in range(8):
                target = remote_target(f"{base}/mcp?upstream={i}")
                async with (
                    Endpoint(shared, target, HttpWatch(), 5.0) as endpoint,
                    endpoint.stream("GET", {}) as response,
                ):
                    await response.aread()
        finally:
            await shared.aclose()
    assert opened and all(isinstance(stream, LeanStream) for stream in opened)
