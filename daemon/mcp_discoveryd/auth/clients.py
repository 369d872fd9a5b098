"""The token cache's HTTP clients: one per TLS setup (CA bundle, client certificate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from .spec import OAuthSpec
from .tls import ssl_context_for

if TYPE_CHECKING:  # imported at the first client: the token cache of a stdio-only run makes none
    import httpx2

Setup = tuple[str | None, str | None, str | None]  # CA bundle, client certificate, its key


class HttpClients:
    """Clients made on first use and kept (connections reused) until ``aclose``."""

    def __init__(self, request_limit: float) -> None:
        self._limit = request_limit
        self._clients: dict[Setup, httpx2.AsyncClient] = {}

    def for_spec(self, spec: OAuthSpec) -> httpx2.AsyncClient:
        """The HTTP client of the spec's TLS setup: made once."""
        setup = (spec.ca_bundle, spec.client_cert, spec.client_key)
        client = self._clients.get(setup)
        if client is None:
            import httpx2

            client = self._clients[setup] = httpx2.AsyncClient(
                verify=ssl_context_for(spec),
                trust_env=True,
                follow_redirects=False,
                timeout=httpx2.Timeout(self._limit, connect=10.0),
            )
        return client

    async def aclose(self) -> None:
        """Close every client (shielded: called on the way out, maybe cancelled)."""
        with anyio.CancelScope(shield=True):
            for client in self._clients.values():
                await client.aclose()
        self._clients.clear()
