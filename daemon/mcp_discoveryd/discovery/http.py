"""Remote transports (streamable HTTP, SSE) over one HTTP connection pool shared by all upstreams.

Building an ``httpx2.AsyncClient`` costs about 100 ms (its SSL context), so the
pool is built once. Each connection gets a cheap client (tens of microseconds)
whose transport is a view on the pool: it carries that server's headers and
timeouts, a response hook that records HTTP statuses (the SDK turns a 401 or
500 into a bare JSON-RPC error and loses the code), and a cap on the size of
any one response body. Closing the cheap client leaves the pool open.

Connections go through ``LeanBackend`` (``http_backend.py``): httpcore2's
own backend spends more on bookkeeping per socket read than on the read.

The pool is split into ``POOL_SHARDS`` httpcore pools sharing one SSL context,
and a server's URL always picks the same one. httpcore scans every connection
of a pool (and polls each idle socket) on every request and every response
close, so one pool holding N connections costs O(N) per request: with 50
servers at once that scan was a quarter of the client's CPU. Shards keep it
small, while a server's refreshes still reuse its kept-alive connections.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from zlib import crc32

import httpcore2
import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client

from ..models import RemoteTarget, Transport
from .http_backend import LeanBackend
from .streamable import streamable_transport

CONNECT_TIMEOUT = 10.0  # seconds; never more than the server's own deadline
POOL_SHARDS = 16
KEEPALIVE_PER_SHARD = 8  # idle connections kept per shard (for about 5 s, httpx2's default)


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
        # trust_env (the default): SSL_CERT_FILE/SSL_CERT_DIR shape the one SSL context, and each
        # shard honours HTTPS_PROXY/NO_PROXY like any httpx2 client.
        ssl_context = httpx2.create_ssl_context()
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_PER_SHARD)
        self.transports = tuple(
            httpx2.AsyncHTTPTransport(verify=ssl_context, limits=limits) for _ in range(POOL_SHARDS)
        )
        self._shards = tuple(_shard(t, ssl_context, limits) for t in self.transports)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()

    def _shard(self, url: str) -> httpx2.AsyncClient:
        return self._shards[crc32(url.encode()) % POOL_SHARDS]

    def client_for(
        self, target: RemoteTarget, watch: HttpWatch, timeout: float
    ) -> httpx2.AsyncClient:
        """A cheap client for one connection: the server's headers, timeouts and watch."""
        return httpx2.AsyncClient(
            transport=_PoolView(self._shard(target.url), watch, self.max_body_bytes),
            headers=dict(target.headers),
            # Reads, writes and pool waits are bounded by the server's deadline (the caller's
            # cancel scope); a timeout per socket operation would only repeat it, at a cost.
            timeout=httpx2.Timeout(None, connect=min(timeout, CONNECT_TIMEOUT)),
            event_hooks={"response": [watch.record]},
            trust_env=False,  # the pool applies the environment
        )

    @asynccontextmanager
    async def transport(
        self, target: RemoteTarget, watch: HttpWatch, limit_s: float
    ) -> AsyncIterator[TransportStreams]:
        """The transport for ``target`` over the shared pool: ours for streamable HTTP, the SDK's for SSE.

        ``limit_s`` bounds connecting (and the SDK's SSE timeouts); the caller's cancel
        scope is the real deadline.
        """
        client = self.client_for(target, watch, limit_s)
        if target.transport is Transport.SSE:

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
            streamable = streamable_transport(
                client, target.url, max_event_bytes=self.max_body_bytes
            )
            async with client, streamable as streams:
                yield streams


def _shard(
    transport: httpx2.AsyncHTTPTransport, ssl_context: ssl.SSLContext, limits: httpx2.Limits
) -> httpx2.AsyncClient:
    """One pool of the shared client, on the lean network backend where httpx2 allows it."""
    if _lean_capable(transport):
        transport._pool._network_backend = LeanBackend()
    return httpx2.AsyncClient(
        transport=transport,
        verify=ssl_context,
        limits=limits,
        follow_redirects=False,  # the transports follow same-origin redirects themselves
    )


def _lean_capable(transport: httpx2.AsyncHTTPTransport) -> bool:
    """Whether httpx2 still keeps the pool where ``_shard`` can set its network backend.

    httpx2 has no public way to pass httpcore2 a network backend, so the pool's
    attribute is set; if a release moves it, the default backend stays (slower,
    same behaviour) and the test of ``uses_lean_backend`` fails.
    """
    pool = getattr(transport, "_pool", None)
    return type(pool) is httpcore2.AsyncConnectionPool and hasattr(pool, "_network_backend")


def uses_lean_backend(transport: httpx2.AsyncHTTPTransport) -> bool:
    """Whether ``transport``'s pool connects through ``LeanBackend``."""
    return _lean_capable(transport) and isinstance(transport._pool._network_backend, LeanBackend)


class _PoolView(httpx2.AsyncBaseTransport):
    """Sends through the shared pool; caps each body; closing it leaves the pool open."""

    def __init__(self, pool: httpx2.AsyncClient, watch: HttpWatch, cap: int) -> None:
        self._pool = pool
        self._watch = watch
        self._cap = cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._pool.send(request, stream=True)
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
