"""Held writes: a request's bytes leave together at the next read, in order, none lost.

The stream-level cases run against a recording stream; the others send real
requests to a real server and count, at the network interface (the seam: a
receiving socket cannot show how many writes made its bytes), what reaches
the sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpcore2
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.servers.forward_proxy import forward_proxy

from mcp_discoveryd.discovery.transports.client import HttpWatch, SharedClient
from mcp_discoveryd.discovery.transports.held import HOLD_LIMIT, HeldWriteBackend, HeldWriteStream


class _Recording(httpcore2.AsyncNetworkStream):
    """Records each write it is given; a read answers with a marker."""

    def __init__(self, fail_writes: bool = False) -> None:
        self.writes: list[bytes] = []
        self.reads = 0
        self.fail_writes = fail_writes

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the interface's
        if self.fail_writes:
            raise httpcore2.WriteError("peer gone")
        self.writes.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - the interface's
        self.reads += 1
        return b"answer"

    async def aclose(self) -> None:
        pass

    def get_extra_info(self, info: str) -> Any:
        return None


chunks = st.binary(min_size=1, max_size=HOLD_LIMIT // 2)
exchanges = st.lists(st.lists(chunks, min_size=1, max_size=4), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(exchanges=exchanges)
def test_each_exchange_leaves_whole_and_in_order_before_its_read(
    exchanges: list[list[bytes]],
) -> None:
    """Any writes then a read, repeated: everything written is sent before the read, in
    order, in one write unless it passed the hold limit."""

    async def run() -> None:
        inner = _Recording()
        stream = HeldWriteStream(inner)
        sent_before = 0
        for writes in exchanges:
            for chunk in writes:
                await stream.write(chunk)
            assert await stream.read(100) == b"answer"
            new = inner.writes[sent_before:]
            sent_before = len(inner.writes)
            assert b"".join(new) == b"".join(writes)
            assert len(new) <= 1 + sum(map(len, writes)) // HOLD_LIMIT
        assert inner.reads == len(exchanges)

    anyio.run(run)


async def test_a_failed_send_of_held_bytes_lets_the_read_report_the_connection() -> None:
    """As httpcore2 does after a failed write: the read goes on (a server may answer early)."""
    inner = _Recording(fail_writes=True)
    stream = HeldWriteStream(inner)
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    assert await stream.read(100) == b"answer" and inner.reads == 1


class _CountingBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's own backend, counting the writes that reach its sockets."""

    def __init__(self) -> None:
        self.inner = httpcore2.AnyIOBackend()
        self.writes: list[bytes] = []

    async def connect_tcp(self, host: str, port: int, *args: Any) -> httpcore2.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(host, port, *args)
        backend = self

        class Counted(httpcore2.AsyncNetworkStream):
            async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the interface's
                backend.writes.append(buffer)
                await stream.write(buffer, timeout)

            async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - the interface's
                return await stream.read(max_bytes, timeout)

            async def aclose(self) -> None:
                await stream.aclose()

            def get_extra_info(self, info: str) -> Any:
                return stream.get_extra_info(info)

        return Counted()


@asynccontextmanager
async def _answering_server() -> AsyncIterator[str]:
    """A server answering 200 "ok" to each POST (a JSON body ends each), kept alive unless asked."""

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            buffered = b""
            while True:
                try:
                    buffered += await client.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                if buffered.endswith(b"}"):  # the body's end: answer
                    closing = b"connection: close" in buffered.lower()  # the proxy's requests
                    buffered = b""
                    await client.send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    if closing:
                        return

    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tg,
    ):
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.start_soon(listener.serve, serve)
        yield f"http://127.0.0.1:{port}/mcp"
        tg.cancel_scope.cancel()


async def test_httpcore2_sends_each_request_in_one_write_through_the_held_backend() -> None:
    """A real pool and server: head and body reach the socket together, once per request
    (httpcore2's own backend writes them apart: two writes)."""
    counting = _CountingBackend()
    pool = httpcore2.AsyncConnectionPool(network_backend=HeldWriteBackend(counting))
    async with _answering_server() as url, pool:
        for _ in range(3):
            response = await pool.request("POST", url, content=b'{"jsonrpc": "2.0"}')
            assert response.content == b"ok"
    assert len(counting.writes) == 3
    assert all(w.startswith(b"POST /mcp") and w.endswith(b"}") for w in counting.writes)


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
async def test_every_shard_and_proxy_of_the_shared_client_holds_its_writes(
    monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    """Eight servers over four shards, with or without a proxy: each request is one flush."""
    flushes: list[int] = []
    flush = HeldWriteStream._flush

    async def counted(self: HeldWriteStream) -> None:
        flushes.append(1)
        await flush(self)

    monkeypatch.setattr(HeldWriteStream, "_flush", counted)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with forward_proxy() as (proxy, seen), _answering_server() as url:
        if proxied:
            monkeypatch.setenv("HTTP_PROXY", proxy)
        shared = SharedClient(1024, shards=4)
        try:
            for i in range(8):
                request = httpx2.Request("POST", f"{url}?upstream={i}", content=b"{}")
                response = await shared.send(request, HttpWatch())
                assert await response.aread() == b"ok"
                await response.aclose()
        finally:
            await shared.aclose()
    assert len(seen) == (8 if proxied else 0)
    assert len(flushes) == 8
