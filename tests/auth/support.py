"""Serving the test authorization server, and specs of the servers behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from tests.auth.authserver import CLIENT_ID, CLIENT_SECRET, AuthServer, BearerCheck, build_app
from tests.cache.redis_config import TlsFiles
from tests.servers.http_harness import serve_app

from mcp_discoveryd.auth.spec import OAuthSpec
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.models import ServerSpec
from mcp_discoveryd.secret import Secret


@asynccontextmanager
async def serving(
    auth: AuthServer, names: list[str], tls: TlsFiles | None = None
) -> AsyncIterator[tuple[str, dict[str, BearerCheck]]]:
    """The authorization server and the named protected MCP servers; the base URL."""
    app, checks = build_app(auth, names)
    async with serve_app(app, tls) as base:
        auth.base = base
        yield base, checks


def oauth(token_url: str | None, **kw: Any) -> OAuthSpec:
    """The test client's OAuth spec (the right secret unless told)."""
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": Secret(CLIENT_SECRET),
        "token_url": token_url,
    }
    values.update(kw)
    return OAuthSpec(**values)


def protected(base: str, name: str, spec: OAuthSpec, timeout: float = 15.0) -> ServerSpec:
    """A remote server spec for ``/s/NAME/mcp`` with ``spec`` as its OAuth client."""
    target = replace(remote_target(f"{base}/s/{name}/mcp"), oauth=spec)
    return ServerSpec(name=name, target=target, timeout=timeout)
