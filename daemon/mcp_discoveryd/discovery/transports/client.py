"""The one HTTP client every remote upstream shares: httpx2, with explicit limits.

Pooling, keep-alive, TLS and proxies are httpx2's: with ``trust_env`` each
client mounts the environment's proxies (``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``), and the one SSL context (about 100 ms to build,
so built once per ``SharedClient``) reads ``SSL_CERT_FILE``/``SSL_CERT_DIR``;
a request takes the same path with or without a proxy.

The pool is sharded: ``SHARDS`` identical ``httpx2.AsyncClient`` objects, an
upstream URL always sent through the same one (a hash of the URL), each with
its share of the limits. httpcore2's pool looks at every connection it holds
on every request, and for each idle one asks anyio for its socket, which
costs a ``getpeername()`` call: with 50 sessions on one gateway that scan was
a third of the client's CPU per upstream; a shard holds a sixteenth of the
connections. Limits: ``MAX_CONNECTIONS`` open connections in all (a request
waits for a free one in its shard, within its server's deadline) and
``MAX_KEEPALIVE`` idle ones, split evenly between the shards. httpx2 has no
per-host limit, and none is added: the upstreams of one host are usually
many paths on one gateway, which a per-host cap would queue behind each
other; the total cap is what bounds the daemon's sockets.

Every response leaves ``send`` with its body decoded (gzip, deflate, and what
else httpx2 decodes) and counted as decoded: ``max_body_bytes`` caps what a
reply inflates to, not what it weighs on the wire, and httpx2 inflates in
bounded steps, so a compression bomb stops at the cap plus one step. We keep
asking for gzip (catalogs are JSON and shrink several times over a WAN): the
cap has to count decoded bytes anyway, since a server may compress unasked.

Cookies are never kept: one jar shared by every upstream would hand one
server's cookies to another on the same host.
"""

from __future__ import annotations

import base64
import os
import ssl
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Self

import httpx2

from ... import __version__
from ...models import RemoteTarget
from .network import LeanBackend
from .sdk_shim import stream_within_origin, transport_for_url, use_network_backend

if TYPE_CHECKING:
    from ...auth.bearer import Bearer
    from ...auth.tokens import TokenCache

CONNECT_TIMEOUT = 10.0  # seconds; never more than the server's own deadline
MAX_CONNECTIONS = 512  # open connections, every upstream together
MAX_KEEPALIVE = 128  # idle connections kept for reuse
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx2's default)
SHARDS = 16  # clients the limits are split between (see above)
LIMITS = httpx2.Limits(
    max_connections=MAX_CONNECTIONS,
    max_keepalive_connections=MAX_KEEPALIVE,
    keepalive_expiry=KEEPALIVE_EXPIRY,
)
# What we accept (httpx2 decodes both) and who we are.
DEFAULT_HEADERS = {
    "accept-encoding": "gzip, deflate",
    "user-agent": f"mcp-discoveryd/{__version__}",
}


@dataclass(eq=False)
class HttpWatch:
    """What one remote connection saw: failing statuses and whether a reply ran past the cap."""

    transport: str = "streamable-http"  # the configured transport (models.Transport's value)
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (method, status) of >= 400
    oversized: bool = False
    event_stream_refused: bool = False  # a POST got text/event-stream with a failing status

    def record(self, response: httpx2.Response) -> None:
        """Note a failing status (the SDK turns a 401 or 500 into a bare JSON-RPC error)."""
        if response.status_code >= 400:
            self.statuses.append((response.request.method, response.status_code))
            kind = response.headers.get("content-type", "")
            if response.request.method == "POST" and kind.startswith("text/event-stream"):
                self.event_stream_refused = True

    def failing_status(self) -> tuple[str, int] | None:
        """The first failing status, preferring a POST (the messages) over a GET stream."""
        posts = [s for s in self.statuses if s[0] == "POST"]
        found = posts or self.statuses
        return found[0] if found else None


class ReplyTooLargeError(httpx2.StreamError):
    """One response body, decoded, ran past the size cap."""


class SharedClient:
    """The httpx2 clients of every remote upstream (one per shard), and the cap on bodies."""

    def __init__(
        self,
        max_body_bytes: int,
        limits: httpx2.Limits = LIMITS,
        shards: int = SHARDS,
        *,
        tokens: TokenCache | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.tokens = tokens  # OAuth-protected upstreams' tokens (None: no OAuth here)
        ssl_context = shared_ssl_context()
        self._clients = [
            httpx2.AsyncClient(
                limits=share,
                verify=ssl_context,
                trust_env=True,
                follow_redirects=False,  # the SDK's rule (same origin only) decides, per request
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                timeout=httpx2.Timeout(None, connect=CONNECT_TIMEOUT),
            )
            for share in split_limits(limits, shards)
        ]
        backend = LeanBackend()  # fewer scopes per socket operation (network.py)
        for client in self._clients:
            use_network_backend(client, backend)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    def bearer_for(self, target: RemoteTarget) -> Bearer | None:
        """The OAuth side of ``target``'s requests; None when it has none."""
        if target.oauth is None:
            return None
        if self.tokens is None:
            raise RuntimeError("an OAuth-protected upstream needs a SharedClient with tokens")
        from ...auth.bearer import Bearer

        return Bearer(self.tokens, target.oauth, target.url.reveal())

    async def send(
        self, request: httpx2.Request, watch: HttpWatch, bearer: Bearer | None = None
    ) -> httpx2.Response:
        """Send ``request`` (with ``bearer``'s token); its body (unread) comes decoded and capped."""
        if bearer is None:
            return await self._send(request, watch)
        before = len(watch.statuses)
        response = await bearer.send(lambda again: self._send(again, watch), request)
        if response.status_code < 400:  # a 401 answered by a new token was no failure
            del watch.statuses[before:]
        return response

    async def _send(self, request: httpx2.Request, watch: HttpWatch) -> httpx2.Response:
        clients = self._clients
        client = clients[zlib.crc32(str(request.url).encode()) % len(clients)]
        # Straight to the transport the client picks for the URL (a proxy's, or its pool):
        # the client's auth, redirect, cookie and hook layers have nothing to do here (no
        # auth of its own, redirects decided by the caller, no cookies kept) and were
        # about a twelfth of the HTTP path's profiled time.
        extensions = request.extensions
        if "timeout" not in extensions:
            extensions["timeout"] = client.timeout.as_dict()
        try:
            inner = await transport_for_url(client, request.url).handle_async_request(request)
        except httpx2.RequestError as exc:
            exc.request = request  # as the client does: failures name the request
            raise
        inner.request = request
        response = self._decoded_capped(inner, watch)
        watch.record(response)
        return response

    def _decoded_capped(self, inner: httpx2.Response, watch: HttpWatch) -> httpx2.Response:
        """``inner`` with its body capped at ``max_body_bytes`` decoded bytes."""
        stream = inner.stream
        if "content-encoding" not in inner.headers and isinstance(stream, httpx2.AsyncByteStream):
            # The wire's bytes are the body: no second response to decode them.
            inner.stream = _Capped(stream, stream.aclose, watch, self.max_body_bytes, decoded=False)
            return inner
        headers = inner.headers.copy()
        for name in ("content-encoding", "content-length"):  # they describe the wire, not us
            headers.pop(name, None)
        return httpx2.Response(
            inner.status_code,
            headers=headers,
            stream=_Capped(
                inner.aiter_bytes(), inner.aclose, watch, self.max_body_bytes, decoded=True
            ),
            request=inner.request,
            extensions=inner.extensions,
        )

    def client_for(
        self, target: RemoteTarget, watch: HttpWatch, timeout: float
    ) -> httpx2.AsyncClient:
        """A cheap client (tens of microseconds) for the SDK's code: it sends through ``send``."""
        return httpx2.AsyncClient(
            transport=_Via(self, watch, self.bearer_for(target)),
            headers={**DEFAULT_HEADERS, **revealed_headers(target)},
            # Reads, writes and pool waits are bounded by the server's deadline (the caller's
            # cancel scope); a timeout per socket operation would only repeat it, at a cost.
            timeout=httpx2.Timeout(None, connect=connect_timeout(timeout)),
            trust_env=False,  # the shared client applies the environment
        )


class Endpoint:
    """One upstream URL's requests, sent on the shared client without a client per request.

    The URL is parsed and the server's headers merged once. A redirect is sent
    again through a client, by the SDK's rules (followed only within the
    endpoint's origin), so those rules live in one place.
    """

    def __init__(
        self, shared: SharedClient, target: RemoteTarget, watch: HttpWatch, limit_s: float
    ) -> None:
        self.url = httpx2.URL(target.url.reveal())
        self._shared = shared
        self._target = target
        self._watch = watch
        self._limit_s = limit_s
        headers = httpx2.Headers(DEFAULT_HEADERS)  # merged once, names in lower case
        headers.update(url_credentials(self.url))
        headers.update(revealed_headers(target))
        self._headers = dict(headers.items())
        connect = connect_timeout(limit_s)
        self._extensions = {
            "timeout": {"connect": connect, "read": None, "write": None, "pool": None}
        }
        self._client: httpx2.AsyncClient | None = None  # made for the first redirect
        self._bearer = shared.bearer_for(target)

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
        response = await self._shared.send(request, self._watch, self._bearer)
        try:
            if not response.is_redirect:
                yield response
                return
            await response.aclose()
            if self._client is None:
                self._client = self._shared.client_for(self._target, self._watch, self._limit_s)
            async with stream_within_origin(
                self._client, method, self.url, headers=headers, content=content
            ) as followed:
                yield followed
        finally:
            await response.aclose()


def shared_ssl_context() -> ssl.SSLContext:
    """The TLS context of upstream connections, built once per process for each CA setting.

    Building one reads the CA bundle (35-100 ms of CPU); what shapes it is the
    environment's ``SSL_CERT_FILE``/``SSL_CERT_DIR``, so those key the cache, with
    their modification times (a CA rotated on disk is read again at the next reload).
    """
    cert_file, cert_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    return _ssl_context(cert_file, _mtime(cert_file), cert_dir, _mtime(cert_dir))


def _mtime(path: str | None) -> int | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:  # missing: httpx2 says so when it builds the context
        return None


@lru_cache(maxsize=4)
def _ssl_context(
    cert_file: str | None, file_mtime: int | None, cert_dir: str | None, dir_mtime: int | None
) -> ssl.SSLContext:
    return httpx2.create_ssl_context(trust_env=True)  # reads the two variables itself


def split_limits(limits: httpx2.Limits, shards: int) -> list[httpx2.Limits]:
    """``limits`` shared between at most ``shards`` pools: the totals hold, each pool gets one.

    Fewer pools than asked when the connection cap is smaller (a pool needs a
    connection); counts differ by at most one between pools.
    """
    total, idle = limits.max_connections, limits.max_keepalive_connections
    count = max(1, shards if total is None else min(shards, total))
    return [
        httpx2.Limits(
            max_connections=None if total is None else _share(total, count, i),
            max_keepalive_connections=None if idle is None else _share(idle, count, i),
            keepalive_expiry=limits.keepalive_expiry,
        )
        for i in range(count)
    ]


def _share(total: int, count: int, index: int) -> int:
    """Pool ``index``'s part of ``total`` split as evenly as possible between ``count`` pools."""
    return total // count + (1 if index < total % count else 0)


def connect_timeout(limit_s: float) -> float:
    """Seconds a new connection may take: never more than the server's own deadline."""
    return min(limit_s, CONNECT_TIMEOUT)


class _Via(httpx2.AsyncBaseTransport):
    """A cheap client's transport: the shared client; closing it leaves the shared one open."""

    def __init__(self, shared: SharedClient, watch: HttpWatch, bearer: Bearer | None) -> None:
        self._shared = shared
        self._watch = watch
        self._bearer = bearer

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._shared.send(request, self._watch, self._bearer)

    async def aclose(self) -> None:
        """The shared client outlives every connection."""


class _Capped(httpx2.AsyncByteStream):
    """A body cut off past ``cap`` bytes: the wire's (not encoded) or httpx2's decoding of it."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        close: Callable[[], Awaitable[None]],
        watch: HttpWatch,
        cap: int,
        *,
        decoded: bool,
    ) -> None:
        self._chunks, self._close = chunks, close
        self._watch, self._cap = watch, cap
        self._what = " once decoded" if decoded else ""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._chunks:
            seen += len(chunk)
            if seen > self._cap:
                self._watch.oversized = True
                raise ReplyTooLargeError(f"reply larger than {self._cap} bytes{self._what}")
            yield chunk

    async def aclose(self) -> None:
        await self._close()


def url_credentials(url: httpx2.URL) -> dict[str, str]:
    """Basic auth from credentials in the URL, as httpx2's client sends them; else nothing."""
    if not (url.username or url.password):
        return {}
    pair = f"{url.username}:{url.password}".encode()
    return {"authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}


def revealed_headers(target: RemoteTarget) -> dict[str, str]:
    """The server's configured headers with their values, for the request only."""
    return {name: value.reveal() for name, value in target.headers.items()}
