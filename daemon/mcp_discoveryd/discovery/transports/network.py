"""The sockets under httpcore2's pools: its anyio network stream, with less work per operation.

httpcore2's own anyio stream wraps every read and write in a ``fail_after``
scope (a cancel scope and a timer, even with no timeout) and a
context-manager exception map, and answers the pool's "is this idle
connection readable?" (asked for every idle connection on every request) by
looking the socket up again through anyio's typed attributes. Per upstream of
a discovery (four requests) that is about a dozen scopes and a dozen lookups.
This stream keeps httpcore2's behaviour (the same exceptions for the same
faults, a timeout wherever one is given) and does without them: a timeout
scope only when a timeout is set, the map as ``except`` clauses, the socket
looked up once. Our requests carry no read or write timeout (the server's
deadline, a cancel scope around the whole session, bounds them), so their
reads and writes take no scope at all.

Installed on every pool of the shared client (proxies' included) through the
SDK shim; Unix sockets, which upstreams do not use, go through httpcore2's own
backend.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import anyio.abc
import httpcore2
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute, TLSStream

from .sdk_shim import SOCKET_OPTION, is_socket_readable

_BROKEN = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


class LeanStream(httpcore2.AsyncNetworkStream):
    """One connection's byte stream, as httpcore2's anyio stream but without per-call scopes."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._socket = stream.extra(SocketAttribute.raw_socket, None)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if timeout is None:
                return await self._stream.receive(max_bytes)
            with anyio.fail_after(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except TimeoutError as exc:  # only our own fail_after raises it here
            raise httpcore2.ReadTimeout(exc) from exc
        except _BROKEN as exc:
            raise httpcore2.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            if timeout is None:
                return await self._stream.send(buffer)
            with anyio.fail_after(timeout):
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
            with anyio.fail_after(timeout):
                tls = await TLSStream.wrap(
                    self._stream,
                    ssl_context=ssl_context,
                    hostname=server_hostname,
                    standard_compatible=False,  # as httpcore2: servers often skip close_notify
                    server_side=False,
                )
        except BaseException as exc:
            await anyio.aclose_forcefully(self._stream)
            if isinstance(exc, TimeoutError):
                raise httpcore2.ConnectTimeout(exc) from exc
            if isinstance(exc, (*_BROKEN, ssl.SSLError)):
                raise httpcore2.ConnectError(exc) from exc
            raise
        return LeanStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        if info == "socket":
            return self._socket
        if info == "ssl_object":
            return self._stream.extra(TLSAttribute.ssl_object, None)
        if info == "client_addr":
            return self._stream.extra(SocketAttribute.local_address, None)
        if info == "server_addr":
            return self._stream.extra(SocketAttribute.remote_address, None)
        return None


class LeanBackend(httpcore2.AsyncNetworkBackend):
    """Opens TCP connections as httpcore2's anyio backend does, as ``LeanStream`` objects."""

    def __init__(self) -> None:
        self._fallback = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                stream = await anyio.connect_tcp(host, port, local_host=local_address)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(exc) from exc
        except (OSError, anyio.BrokenResourceError) as exc:
            raise httpcore2.ConnectError(exc) from exc
        try:
            raw = stream.extra(SocketAttribute.raw_socket)
            for option in socket_options or ():
                raw.setsockopt(*option)
        except OSError as exc:
            await anyio.aclose_forcefully(stream)
            raise httpcore2.ConnectError(exc) from exc
        return LeanStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        return await self._fallback.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
