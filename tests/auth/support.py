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
    auth: AuthServer, names: list[str], tls: TlsFiles | None = None, *, mtls: bool = False
) -> AsyncIterator[tuple[str, dict[str, BearerCheck]]]:
    """The authorization server and the named protected MCP servers; the base URL.

    ``mtls``: clients must show a certificate signed by ``tls``'s CA.
    """
    app, checks = build_app(auth, names)
    client_ca = str(tls.ca_path) if mtls and tls is not None else None
    async with serve_app(app, tls, client_ca=client_ca) as base:
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


def client_certificate(tls: TlsFiles) -> tuple[str, str]:
    """A client certificate and key signed by ``tls``'s CA (made once, beside it)."""
    import subprocess

    from tests.cache.redis_tls import openssl_binary

    directory = tls.ca_path.parent
    cert, key = directory / "client.crt", directory / "client.key"
    if cert.exists():
        return str(cert), str(key)
    binary = openssl_binary()
    assert binary is not None
    csr, ext = directory / "client.csr", directory / "client.ext"
    ext.write_text("basicConstraints = critical, CA:FALSE\nextendedKeyUsage = clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for step in (
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=mcpd-client"],
        ["x509", "-req", "-in", csr, "-CA", tls.ca_path, "-CAkey", directory / "ca.key"]
        + ["-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext],
    ):
        subprocess.run([binary, *map(str, step)], check=True, capture_output=True, timeout=30)
    return str(cert), str(key)
