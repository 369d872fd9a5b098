"""A leaner network backend for httpcore2's pools, on asyncio.

httpcore2's own anyio backend wraps every socket read and write in an anyio
cancel scope and an exception-mapping context manager, and answers each
``is_readable`` question (asked for every pooled connection on every request)
by rebuilding the stream's attribute table. With 50 servers at once that was
a sixth of the client's CPU. This backend does the same work with plain
``try``/``except``, ``asyncio.timeout`` and the raw socket looked up once.

Behaviour kept from httpcore2: connect, read and write timeouts raise
``ConnectTimeout``/``ReadTimeout``/``WriteTimeout``; a broken or closed stream
raises ``ReadError``/``WriteError``; TLS is anyio's ``TLSStream``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Iterable
from typing import Any

import anyio
import anyio.abc
import httpcore2
from anyio.streams.tls import TLSAttribute, TLSStream
from httpcore2._utils import is_socket_readable

_BROKEN = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


class LeanStream(httpcore2.AsyncNetworkStream):
    """One connection's byte stream."""

    def __init__(self, stream: anyio.abc.ByteStream, sock: socket.socket) -> None:
        self._stream = stream
        self._sock = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if timeout is None:
                return await self._stream.receive(max_bytes)
            async with asyncio.timeout(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except TimeoutError as exc:
            raise httpcore2.ReadTimeout(exc) from exc
        except _BROKEN as exc:
            raise httpcore2.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            if timeout is None:
                return await self._stream.send(buffer)
            async with asyncio.timeout(timeout):
                await self._stream.send(buffer)
        except TimeoutError as exc:
            raise httpcore2.WriteTimeout(exc) from exc
        except _BROKEN as exc:
            raise httpcore2.WriteError(exc) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                wrapped = await TLSStream.wrap(
                    self._stream,
                    ssl_context=ssl_context,
                    hostname=server_hostname,
                    standard_compatible=False,
                    server_side=False,
                )
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore2.ConnectTimeout(exc) from exc
        except (*_BROKEN, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore2.ConnectError(exc) from exc
        return LeanStream(wrapped, self._sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._sock)
        if info == "socket":
            return self._sock
        if info == "ssl_object":
            return self._stream.extra(TLSAttribute.ssl_object, None)
        if info == "client_addr":
            return self._stream.extra(anyio.abc.SocketAttribute.local_address, None)
        if info == "server_addr":
            return self._stream.extra(anyio.abc.SocketAttribute.remote_address, None)
        return None


class LeanBackend(httpcore2.AsyncNetworkBackend):
    """Connects TCP and Unix sockets for httpcore2 and hands out ``LeanStream`` objects."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        opening = anyio.connect_tcp(host, port, local_host=local_address)
        return await _connected(opening, timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        return await _connected(anyio.connect_unix(path), timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def _connected(
    opening: Awaitable[anyio.abc.SocketStream | anyio.abc.UNIXSocketStream],
    timeout: float | None,
    socket_options: Iterable[httpcore2.SOCKET_OPTION] | None,
) -> LeanStream:
    """Await a connection within ``timeout``, in httpcore2's error types, then set its options."""
    try:
        async with asyncio.timeout(timeout):
            stream = await opening
    except TimeoutError as exc:
        raise httpcore2.ConnectTimeout(exc) from exc
    except (OSError, anyio.BrokenResourceError) as exc:
        raise httpcore2.ConnectError(exc) from exc
    sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
    for option in socket_options or ():
        sock.setsockopt(*option)
    return LeanStream(stream, sock)
