"""httpcore2's network backend with one change: a request leaves in one write, not two.

httpcore2 writes a request's head and its body separately: two ``send``
calls, two TCP segments and two wake-ups of the server for every MCP message
(each a small POST). Here what is written is held until the connection is
next read, when it leaves at once: an HTTP/1.1 client always reads the answer
after sending a request, so nothing waits on the held bytes. Past
``HOLD_LIMIT`` bytes they are sent at once (a large body streams as before).
Connecting, TLS, timeouts and error mapping stay httpcore2's own backend's,
which this one wraps; the pool, keep-alive and limits are untouched.

A failed send of the held bytes is not raised from the read that flushed
them, but the read goes on, as httpcore2 does for a failed write (a server
may answer and close early): a dead connection then fails that read.
"""

# httpcore2's network interface takes each operation's timeout as an argument:
# ruff: noqa: ASYNC109

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2

HOLD_LIMIT = 64 * 1024  # bytes held before they are sent without waiting for a read


class HeldWriteBackend(httpcore2.AsyncNetworkBackend):
    """Connects through ``inner`` (httpcore2's default), holding writes until the next read."""

    def __init__(self, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._inner = httpcore2.AnyIOBackend() if inner is None else inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return HeldWriteStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return HeldWriteStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class HeldWriteStream(httpcore2.AsyncNetworkStream):
    """A connection whose writes leave together, at the next read."""

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        self._held = bytearray()
        self._timeout: float | None = None  # the write timeout of the held bytes

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._held += buffer
        self._timeout = timeout
        if len(self._held) >= HOLD_LIMIT:
            await self._flush()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            try:
                await self._flush()
            except httpcore2.WriteError:
                pass  # the read below reports the connection's state (see the module docstring)
        return await self._inner.read(max_bytes, timeout)

    async def _flush(self) -> None:
        data = bytes(self._held)
        self._held.clear()
        await self._inner.write(data, self._timeout)

    async def aclose(self) -> None:
        self._held.clear()
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if self._held:
            await self._flush()
        return HeldWriteStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
