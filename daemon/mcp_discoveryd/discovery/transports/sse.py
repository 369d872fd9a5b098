"""The SSE transport (the 2024-11-05 HTTP+SSE protocol): the SDK's, over the shared client.

The SDK's ``sse_client`` does the work (the GET event stream, the POST
endpoint it announces, its origin rules); it gets a cheap client whose
requests go through the shared one, so SSE servers share its connections,
proxies, limits and decoded-size cap with every other remote upstream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.client.sse import sse_client

from ...models import RemoteTarget
from .client import HttpWatch, SharedClient
from .sdk_shim import TransportStreams


@asynccontextmanager
async def sse_transport(
    shared: SharedClient,
    target: RemoteTarget,
    watch: HttpWatch,
    limit_s: float,
    *,
    read_s: float | None = None,
) -> AsyncIterator[TransportStreams]:
    """Message streams for a session with the SSE server at ``target``.

    ``limit_s`` bounds connecting and the SDK's own SSE timeouts; the caller's
    cancel scope is the real deadline. ``read_s`` (default ``limit_s``) bounds a
    quiet event stream: a watched session, pinged, sets it past its ping interval.
    """
    client = shared.client_for(target, watch, limit_s)

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return client  # headers and timeouts are already on it

    # sse_client opens and closes the client itself.
    sse = sse_client(
        target.url.reveal(),
        timeout=limit_s,
        sse_read_timeout=limit_s if read_s is None else read_s,
        httpx_client_factory=factory,
    )
    async with sse as streams:
        yield streams
