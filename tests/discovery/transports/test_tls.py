"""Upstreams over TLS: a CA the environment trusts, an untrusted certificate, and the one
TLS context per process that follows the environment's CA setting and the bundle on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.cache.redis_config import TlsFiles
from tests.cache.redis_tls import make_tls_files
from tests.conftest import require_binary
from tests.discovery.upstream_support import fetch, tool_names
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import HIGH_TOOLS, build_high

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.transports.client import shared_ssl_context
from mcp_discoveryd.models import ErrorKind, ServerSpec


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1."""
    require_binary("openssl", "openssl CLI (makes the TLS test certificates)")
    return make_tls_files(tmp_path)


async def test_https_upstream_is_listed_over_tls(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server behind a certificate from a CA the environment trusts: the whole catalog."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_path))
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        assert base.startswith("https://")
        spec = ServerSpec(name="tls", target=remote_target(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert tool_names(result) == list(HIGH_TOOLS)


async def test_https_upstream_with_an_untrusted_certificate_is_refused(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CA, the handshake fails: an error naming the certificate, no catalog."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        spec = ServerSpec(name="tls", target=remote_target(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert result.catalog is None and result.error is not None
    assert result.error.kind is ErrorKind.CONNECTION_REFUSED, result.error
    assert "certificate" in result.error.message.lower(), result.error.message


async def test_the_shared_tls_context_follows_the_environments_ca_within_one_process(
    tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built once per CA setting, not once per process: trusted with the CA, refused without it."""
    async with serve_app(build_high().streamable_http_app(), tls=tls_files) as base:
        spec = ServerSpec(name="tls", target=remote_target(f"{base}/mcp"), timeout=10)
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_path))
        trusting = shared_ssl_context()
        assert shared_ssl_context() is trusting  # the second client pays nothing
        trusted, _ = await fetch(spec)
        monkeypatch.delenv("SSL_CERT_FILE")
        assert shared_ssl_context() is not trusting
        refused, _ = await fetch(spec)
    assert tool_names(trusted) == list(HIGH_TOOLS)
    assert refused.error is not None and refused.error.kind is ErrorKind.CONNECTION_REFUSED


def test_a_ca_bundle_rewritten_on_disk_is_read_again(
    tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is keyed by the bundle's modification time: a rotated CA is not kept."""
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(tls_files.ca_path.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    before = shared_ssl_context()
    assert shared_ssl_context() is before
    os.utime(bundle, ns=(bundle.stat().st_atime_ns, bundle.stat().st_mtime_ns + 10**9))
    assert shared_ssl_context() is not before
