"""Remote transports (streamable HTTP, SSE) over one HTTP connection pool shared by all upstreams.

Building an ``httpx2.AsyncClient`` costs about 100 ms (its SSL context), so the
pool is built once. A streamable HTTP server gets an ``Endpoint``: its URL
parsed and its headers merged once, each request sent straight to the pool.
An SSE server gets a cheap client (tens of microseconds) for the SDK's
transport. Both send through a view on the pool that records HTTP statuses
(the SDK turns a 401 or 500 into a bare JSON-RPC error and loses the code) and
caps the size of any one response body. Closing either leaves the pool open.

Requests go through ``Http11Transport`` (``http11.py``), an HTTP/1.1
transport on h11 keeping connections per origin: httpx2's default transport
spends more on pool bookkeeping per request than on the request. When the
environment names a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``),
every request goes through one ``httpx2.AsyncClient`` instead, which applies
the proxies (and ``NO_PROXY``) with httpx2's own transports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Self
from urllib.request import getproxies

import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.shared._httpx_utils import stream_within_origin

from .. import __version__
from ..models import RemoteTarget, Transport
from .http11 import Http11Transport
from .streamable import streamable_transport

CONNECT_TIMEOUT = 10.0  # seconds; never more than the server's own deadline
# What httpx2's client would add (gzip and deflate are decoded by its Response), and who we are.
DEFAULT_HEADERS = {
    "accept-encoding": "gzip, deflate",
    "user-agent": f"mcp-discoveryd/{__version__}",
}


@dataclass(eq=False)
class HttpWatch:
    """What one remote connection saw: failing statuses and whether a reply ran past the cap."""

    statuses: list[tuple[str, int]] = field(default_factory=list)  # (method, status) of >= 400
    oversized: bool = False

    async def record(self, response: httpx2.Response) -> None:
        """httpx2 response hook."""
        if response.status_code >= 400:
            self.statuses.append((response.request.method, response.status_code))

    def failing_status(self) -> tuple[str, int] | None:
        """The first failing status, preferring a POST (the messages) over the optional GET stream."""
        posts = [s for s in self.statuses if s[0] == "POST"]
        found = posts or self.statuses
        return found[0] if found else None


class ReplyTooLargeError(httpx2.StreamError):
    """One response body ran past the catalog size cap."""


class HttpPool:
    """The one connection pool every remote upstream shares."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        # SSL_CERT_FILE/SSL_CERT_DIR shape the one SSL context.
        ssl_context = httpx2.create_ssl_context()
        self.lean = Http11Transport(ssl_context)
        self._client: httpx2.AsyncClient | None = None
        self._sender: httpx2.AsyncBaseTransport = self.lean
        if uses_proxies():  # httpx2 mounts the environment's proxies only on its own transports
            self._client = httpx2.AsyncClient(verify=ssl_context, follow_redirects=False)
            self._sender = _ClientSender(self._client)

    async def aclose(self) -> None:
        await self.lean.aclose()
        if self._client is not None:
            await self._client.aclose()

    def client_for(
        self, target: RemoteTarget, watch: HttpWatch, timeout: float
    ) -> httpx2.AsyncClient:
        """A cheap client for one connection: the server's headers, timeouts and watch."""
        return httpx2.AsyncClient(
            transport=self.view(watch),
            headers=dict(target.headers),
            # Reads, writes and pool waits are bounded by the server's deadline (the caller's
            # cancel scope); a timeout per socket operation would only repeat it, at a cost.
            timeout=httpx2.Timeout(None, connect=connect_timeout(timeout)),
            event_hooks={"response": [watch.record]},
            trust_env=False,  # the pool applies the environment's proxies
        )

    def view(self, watch: HttpWatch) -> httpx2.AsyncBaseTransport:
        """The pool as one connection's transport: its replies capped and watched."""
        return _PoolView(self._sender, watch, self.max_body_bytes)

    @asynccontextmanager
    async def transport(
        self, target: RemoteTarget, watch: HttpWatch, limit_s: float
    ) -> AsyncIterator[TransportStreams]:
        """The transport for ``target`` over the shared pool: ours for streamable HTTP, the SDK's for SSE.

        ``limit_s`` bounds connecting (and the SDK's SSE timeouts); the caller's cancel
        scope is the real deadline.
        """
        if target.transport is Transport.SSE:
            client = self.client_for(target, watch, limit_s)

            def factory(
                headers: dict[str, str] | None = None,
                timeout: httpx2.Timeout | None = None,
                auth: httpx2.Auth | None = None,
            ) -> httpx2.AsyncClient:
                return client  # headers and timeouts are already on it

            # sse_client opens and closes the client itself.
            sse = sse_client(
                target.url, timeout=limit_s, sse_read_timeout=limit_s, httpx_client_factory=factory
            )
            async with sse as streams:
                yield streams
        else:
            endpoint = Endpoint(self, target, watch, limit_s)
            streamable = streamable_transport(endpoint, max_event_bytes=self.max_body_bytes)
            async with endpoint, streamable as streams:
                yield streams


class Endpoint:
    """One upstream URL's requests, sent on the shared pool without an httpx2 client per request.

    ``httpx2.AsyncClient.send`` merges URLs, headers and cookies and runs its
    auth and redirect machinery for every request; here the URL is parsed and
    the server's headers merged once. A redirect is the exception: its request
    is sent again through a client, by the SDK's rules (followed only within the
    endpoint's origin), so those rules live in one place.
    """

    def __init__(
        self, pool: HttpPool, target: RemoteTarget, watch: HttpWatch, limit_s: float
    ) -> None:
        self.url = httpx2.URL(target.url)
        self._pool = pool
        self._target = target
        self._watch = watch
        self._limit_s = limit_s
        self._transport = pool.view(watch)
        self._headers = {**DEFAULT_HEADERS, **target.headers}
        connect = connect_timeout(limit_s)
        self._extensions = {
            "timeout": {"connect": connect, "read": None, "write": None, "pool": None}
        }
        self._client: httpx2.AsyncClient | None = None  # made for the first redirect

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    @asynccontextmanager
    async def stream(
        self, method: str, headers: Mapping[str, str], content: bytes | None = None
    ) -> AsyncIterator[httpx2.Response]:
        """Send one request; yield its response, body unread; close it afterwards."""
        merged = {**self._headers, **headers}
        request = httpx2.Request(
            method, self.url, headers=merged, content=content, extensions=self._extensions
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            if not response.is_redirect:
                await self._watch.record(response)
                yield response
                return
            await response.aclose()
            if self._client is None:
                self._client = self._pool.client_for(self._target, self._watch, self._limit_s)
            async with stream_within_origin(
                self._client, method, self.url, headers=headers, content=content
            ) as followed:
                yield followed
        finally:
            await response.aclose()


def connect_timeout(limit_s: float) -> float:
    """Seconds a new connection may take: never more than the server's own deadline."""
    return min(limit_s, CONNECT_TIMEOUT)


def uses_proxies() -> bool:
    """Whether the environment names an HTTP proxy (httpx2 reads the same variables)."""
    proxies = getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class _ClientSender(httpx2.AsyncBaseTransport):
    """Sends through the pool's client, which picks a proxy transport where one applies."""

    def __init__(self, client: httpx2.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._client.send(request, stream=True)


class _PoolView(httpx2.AsyncBaseTransport):
    """Sends through the shared pool; caps each body; closing it leaves the pool open."""

    def __init__(self, pool: httpx2.AsyncBaseTransport, watch: HttpWatch, cap: int) -> None:
        self._pool = pool
        self._watch = watch
        self._cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._pool.handle_async_request(request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _CappedStream(response.stream, self._watch, self._cap)
        return response

    async def aclose(self) -> None:
        """The pool outlives every connection."""


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, watch: HttpWatch, cap: int) -> None:
        self._inner = inner
        self._watch = watch
        self._cap = cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._cap:
                self._watch.oversized = True
                raise ReplyTooLargeError(f"reply larger than {self._cap} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
