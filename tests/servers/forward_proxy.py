"""A small real HTTP forward proxy on loopback, for tests of the environment's proxy settings.

async with forward_proxy() as (proxy_url, seen):
    ...  # seen: the request lines it forwarded, e.g. "POST http://127.0.0.1:PORT/mcp HTTP/1.1"

Each request is sent to its origin on a new connection with ``connection:
close`` and the origin's whole reply (read to its end) is passed back as is,
so every framing (content-length, chunked, an event stream) works unparsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio
import anyio.abc


async def _read_head(stream: anyio.abc.ByteStream, data: bytes) -> tuple[bytes, bytes] | None:
    while b"\r\n\r\n" not in data:
        try:
            data += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


async def _one_request(client: anyio.abc.ByteStream, seen: list[str]) -> None:
    """Forward one request and pass its reply back."""
    parsed = await _read_head(client, b"")
    if parsed is None:
        return
    head, rest = parsed
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    seen.append(request_line)
    method, target, version = request_line.split(" ")
    length = 0
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        if name.strip().lower() not in ("connection", "proxy-connection", "keep-alive"):
            headers.append(line)
    while len(rest) < length:
        rest += await client.receive()
    body = rest[:length]
    url = urlsplit(target)
    path = url.path + (f"?{url.query}" if url.query else "")
    outgoing = "\r\n".join([f"{method} {path} {version}", *headers, "connection: close", "", ""])
    async with await anyio.connect_tcp(url.hostname or "", url.port or 80) as origin:
        await origin.send(outgoing.encode("latin-1") + body)
        while True:
            try:
                await client.send(await origin.receive())
            except anyio.EndOfStream:
                break


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """Serve as an HTTP proxy until the block ends; yields its URL and the request lines seen."""
    seen: list[str] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:  # one request per connection: the origin's reply ends at its close
            await _one_request(client, seen)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            yield f"http://127.0.0.1:{port}", seen
        finally:
            tg.cancel_scope.cancel()
