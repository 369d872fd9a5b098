"""A lean HTTP/1.1 transport for httpx2, on h11: the shared pool's own connections.

httpx2's default transport (httpcore2) spends about 0.3 ms of CPU per request
on pool scans, locks, per-read cancel scopes and exception-mapping contexts;
with 50 servers at once, four requests each, that was most of the client's
CPU. This transport does one request per connection at a time with h11 and a
socket, in about a third of that.

Behaviour kept from httpcore2: kept-alive connections per origin (an idle one
is dropped after ``KEEPALIVE_EXPIRY`` or as soon as its socket turns readable,
i.e. the server closed it); a connection whose response was not read to its
end, or that was cancelled mid-exchange, is closed, never reused; the connect
timeout of the request's ``timeout`` extension (read and write timeouts too,
when set); TLS with the pool's SSL context; httpx2's error types
(``ConnectError``, ``ConnectTimeout``, ``ReadError``, ``WriteError``,
``ReadTimeout``, ``RemoteProtocolError``). Not here: HTTP/2 and proxies (with
a proxy configured, the pool sends through httpx2's own client instead).
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import h11
import httpx2
from anyio.streams.tls import TLSStream

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx2's default)
MAX_IDLE_PER_ORIGIN = 64  # many servers may share one origin (paths on one host)
READ_SIZE = 64 * 1024

Origin = tuple[bytes, bytes, int]  # scheme, host, port
_BROKEN = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class Http11Transport(httpx2.AsyncBaseTransport):
    """Sends each request on an idle kept-alive connection to its origin, or a new one."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False
        self._swept = time.monotonic()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        connection = await self._checkout(origin) or await _Connection.open(
            origin, self._ssl_context, timeouts.get("connect")
        )
        try:
            response = await connection.exchange(request, timeouts)
        except BaseException:
            await connection.close()
            raise
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_Body(connection, self, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    async def _checkout(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            await connection.close()
        return None

    async def checkin(self, connection: _Connection) -> None:
        """Keep a connection whose exchange ended cleanly for the next request to its origin."""
        now = time.monotonic()
        if now - self._swept > KEEPALIVE_EXPIRY:
            await self._sweep(now)
        idle = self._idle.setdefault(connection.origin, [])
        if self._closed or len(idle) >= MAX_IDLE_PER_ORIGIN:
            await connection.close()
        else:
            connection.idle_since = now
            idle.append(connection)

    async def _sweep(self, now: float) -> None:
        """Close expired idle connections of every origin (one no request goes to any more, too)."""
        self._swept = now
        for origin, connections in list(self._idle.items()):
            kept: list[_Connection] = []
            for connection in connections:
                if connection.expired(now):
                    await connection.close()
                else:
                    kept.append(connection)
            if kept:
                self._idle[origin] = kept
            else:
                del self._idle[origin]

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.close()


class _Connection:
    """One socket (TLS or not) and its h11 state machine; one exchange at a time."""

    def __init__(self, origin: Origin, stream: anyio.abc.ByteStream, sock: socket.socket) -> None:
        self.origin = origin
        self.stream = stream
        self.sock = sock
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0

    @classmethod
    async def open(
        cls, origin: Origin, ssl_context: ssl.SSLContext, timeout: float | None
    ) -> _Connection:
        """Connect (and shake hands over TLS for https) within ``timeout``."""
        scheme, host, port = origin
        hostname = host.decode("ascii")
        try:
            with anyio.fail_after(timeout):
                stream: anyio.abc.ByteStream = await _connect_tcp(hostname, port)
                sock = stream.extra(anyio.abc.SocketAttribute.raw_socket)
                if scheme == b"https":
                    try:
                        stream = await TLSStream.wrap(
                            stream,
                            hostname=hostname,
                            ssl_context=ssl_context,
                            standard_compatible=False,
                        )
                    except BaseException:
                        await anyio.aclose_forcefully(stream)
                        raise
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(f"connecting to {hostname}:{port} timed out") from exc
        except (*_BROKEN, ssl.SSLError) as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__) from exc
        return cls(origin, stream, sock)

    def expired(self, now: float) -> bool:
        """Idle for longer than connections are kept."""
        return now - self.idle_since > KEEPALIVE_EXPIRY

    def reusable(self) -> bool:
        """Idle, not expired, and the server has not closed it (nothing to read)."""
        if self.expired(time.monotonic()):
            return False
        # poll, not select: select cannot watch descriptors past 1023, and a busy daemon has them.
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    async def exchange(
        self, request: httpx2.Request, timeouts: dict[str, float | None]
    ) -> h11.Response:
        """Send ``request`` and read up to the final response's head."""
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        body = b"".join([chunk async for chunk in request.stream])
        head = h11.Request(
            method=request.method, target=request.url.raw_path, headers=request.headers.raw
        )
        try:
            data = self.h11.send(head) or b""
            if body:
                data += self.h11.send(h11.Data(data=body)) or b""
            data += self.h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise httpx2.LocalProtocolError(str(exc)) from exc
        await self._send(data, timeouts.get("write"))
        while True:
            event = await self.next_event(timeouts.get("read"))
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx: wait for the final one
                raise httpx2.RemoteProtocolError(f"unexpected {type(event).__name__} from server")

    async def next_event(self, timeout: float | None) -> Any:
        """The next h11 event, reading from the socket as needed."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx2.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                    raise httpx2.RemoteProtocolError("server closed the connection mid-response")
                return event
            self.h11.receive_data(await self._receive(timeout))

    async def _send(self, data: bytes, timeout: float | None) -> None:
        try:
            if timeout is None:
                return await self.stream.send(data)
            async with asyncio.timeout(timeout):
                await self.stream.send(data)
        except TimeoutError as exc:
            raise httpx2.WriteTimeout("sending the request timed out") from exc
        except _BROKEN as exc:
            raise httpx2.WriteError(str(exc) or type(exc).__name__) from exc

    async def _receive(self, timeout: float | None) -> bytes:
        try:
            if timeout is None:
                return await self.stream.receive(READ_SIZE)
            async with asyncio.timeout(timeout):
                return await self.stream.receive(READ_SIZE)
        except anyio.EndOfStream:
            return b""  # h11 turns an early end into RemoteProtocolError
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("reading the response timed out") from exc
        except _BROKEN as exc:
            raise httpx2.ReadError(str(exc) or type(exc).__name__) from exc

    def finished(self) -> bool:
        """Whether the exchange ended cleanly and the connection can serve another."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False

    async def close(self) -> None:
        """Close at once, even in a cancelled scope: no TLS goodbye, nothing to wait for."""
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self.stream)


async def _connect_tcp(host: str, port: int) -> anyio.abc.SocketStream:
    """A TCP connection; to an IP address without anyio's resolver and happy-eyeballs task group.

    That machinery costs more than the rest of a first request to a local server.
    """
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name: resolve it and race its addresses, the anyio way
        return await anyio.connect_tcp(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        return await anyio.abc.SocketStream.from_socket(sock)
    except BaseException:
        sock.close()
        raise


class _Body(httpx2.AsyncByteStream):
    """A response body; at its end the connection goes back to the pool (or is closed)."""

    def __init__(self, connection: _Connection, pool: Http11Transport, timeout: float | None):
        self._connection: _Connection | None = connection
        self._pool = pool
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx2.StreamClosed()
        while True:
            event = await connection.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        self._connection = None
        if connection.finished():
            await self._pool.checkin(connection)
        else:
            await connection.close()

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:  # not read to its end: the connection's state is unknown
            await connection.close()
