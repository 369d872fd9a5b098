"""The lean network backend under httpcore2: real sockets, real TLS, httpcore2's error types."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpcore2
import httpx2
import pytest
from tests.cache.redis_config import TlsFiles
from tests.cache.redis_tls import make_tls_files
from tests.conftest import require_binary
from tests.discovery.upstream_support import fetch, tool_names
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd.discovery.http import HttpPool, uses_lean_backend
from mcp_discoveryd.discovery.http_backend import LeanBackend
from mcp_discoveryd.models import ErrorKind, RemoteTarget, ServerSpec


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1."""
    require_binary("openssl", "openssl CLI (makes the TLS test certificates)")
    return make_tls_files(tmp_path)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never sends a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_every_shard_of_the_shared_pool_connects_through_the_lean_backend() -> None:
    """httpx2 still lets the backend be installed (a release that moves it fails here)."""
    pool = HttpPool(1024)
    try:
        assert pool.transports and all(uses_lean_backend(t) for t in pool.transports)
    finally:
        await pool.aclose()
    assert not uses_lean_backend(httpx2.AsyncHTTPTransport())


async def test_a_read_past_its_timeout_is_httpcore_read_timeout(silent_listener: int) -> None:
    """A read that gets nothing within its timeout raises ReadTimeout, promptly."""
    stream = await LeanBackend().connect_tcp("127.0.0.1", silent_listener, timeout=5)
    try:
        with anyio.fail_after(5), pytest.raises(httpcore2.ReadTimeout):
            await stream.read(1024, timeout=0.1)
    finally:
        await stream.aclose()


async def test_reads_end_and_writes_fail_once_the_peer_is_gone() -> None:
    """The peer's close reads as b"" (end of stream); writing to our closed stream is WriteError."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        stream = await LeanBackend().connect_tcp("127.0.0.1", listener.getsockname()[1])
        peer, _ = listener.accept()
        peer.sendall(b"bye")
        peer.close()
    assert stream.get_extra_info("is_readable") is True
    assert await stream.read(1024, timeout=5) == b"bye"
    assert await stream.read(1024, timeout=5) == b""
    await stream.aclose()
    with pytest.raises(httpcore2.WriteError):
        await stream.write(b"more", timeout=5)


async def test_connecting_to_a_closed_port_is_connect_error() -> None:
    """Nothing listening: ConnectError (the upstream client reports connection_refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpcore2.ConnectError):
        await LeanBackend().connect_tcp("127.0.0.1", port, timeout=5)


async def test_https_upstream_is_listed_over_the_lean_backends_tls(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server behind a certificate from a CA the environment trusts: the whole catalog."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_path))
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        assert base.startswith("https://")
        spec = ServerSpec(name="tls", target=RemoteTarget(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS)


async def test_https_upstream_with_an_untrusted_certificate_is_refused(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CA, the handshake fails: an error naming the certificate, no catalog."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        spec = ServerSpec(name="tls", target=RemoteTarget(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert result.catalog is None and result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION_REFUSED, result.error
    assert "certificate" in result.error.message.lower(), result.error.message
