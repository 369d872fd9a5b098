"""A remote upstream's requests with its OAuth token: a 401 answered by one new token and one retry.

The HTTP transports (streamable and SSE) send every request of an
OAuth-protected server through ``Bearer.send``. Before the token endpoint is
known (none configured, no discovery yet) the first request goes without a
token: the server's 401 names its resource metadata, and discovery starts there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx2

from .spec import OAuthSpec
from .tokens import TokenCache

Send = Callable[[httpx2.Request], Awaitable[httpx2.Response]]


@dataclass(frozen=True, slots=True)
class Bearer:
    """One upstream's OAuth client and the token cache it draws from."""

    cache: TokenCache
    spec: OAuthSpec
    server_url: str

    async def send(self, send: Send, request: httpx2.Request) -> httpx2.Response:
        """Send ``request`` with a bearer token; a 401 gets one new token and one retry.

        ``TokenError`` when no token can be got (the session reports it as auth_failed).
        """
        refused = None
        if self.cache.ready(self.spec, self.server_url):
            token = await self.cache.token(self.spec, self.server_url)
            refused = token.access
            request.headers["authorization"] = f"Bearer {token.access.reveal()}"
        response = await send(request)
        if response.status_code != 401:
            return response
        await response.aread()  # the challenge's headers are read; the body is small
        await response.aclose()
        token = await self.cache.token(
            self.spec, self.server_url, challenge=response, refused=refused
        )
        request.headers["authorization"] = f"Bearer {token.access.reveal()}"
        return await send(request)
