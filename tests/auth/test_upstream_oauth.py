"""Remote upstreams behind OAuth, against a real authorization server over HTTP(S)."""

from __future__ import annotations

import logging
from dataclasses import replace

import anyio
import pytest
from tests.auth.authserver import CLIENT_SECRET, AuthServer
from tests.auth.support import oauth, protected, serving
from tests.cache.redis_config import TlsFiles
from tests.discovery.upstream_support import settings, tool_names
from tests.servers.sdk_servers import HIGH_TOOLS

from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind
from mcp_discoveryd.secret import Secret


@pytest.mark.parametrize("method", ["basic", "post"])
async def test_client_credentials_by_each_client_auth_method(method: str) -> None:
    """The client authenticates as configured; scope, audience, resource, extras and headers go along."""
    auth = AuthServer()
    async with serving(auth, ["a"]) as (base, checks):
        spec = oauth(
            f"{base}/token",
            client_auth=method,
            scope="tools:read",
            audience="mcp-api",
            resource="https://mcp.example/a",
            extra_params=(("tenant", "t1"),),
            headers={"x-trace": Secret("abc")},
        )
        async with UpstreamClient(settings()) as client:
            result = await client.fetch(protected(base, "a", spec))
    assert tool_names(result) == list(HIGH_TOOLS), result.error
    assert auth.methods == [method]
    form = auth.requests[0]
    assert form["grant_type"] == "client_credentials"
    assert (form["scope"], form["audience"], form["tenant"]) == ("tools:read", "mcp-api", "t1")
    assert form["resource"] == "https://mcp.example/a"
    assert ("client_secret" in form) is (method == "post")
    assert auth.headers_seen[0]["x-trace"] == "abc"
    assert checks["a"].refused == 0  # the token endpoint was known: no request went without one


async def test_discovery_through_a_401_and_the_metadata_documents() -> None:
    """No token_url: the 401's resource_metadata -> RFC 9728 -> RFC 8414 -> the token endpoint."""
    auth = AuthServer()
    async with serving(auth, ["d"]) as (base, checks), UpstreamClient(settings()) as client:
        result = await client.fetch(protected(base, "d", oauth(None)))
        again = await client.fetch(protected(base, "d", oauth(None)))
    assert tool_names(result) == list(HIGH_TOOLS), result.error
    assert tool_names(again) == list(HIGH_TOOLS)
    assert len(auth.requests) == 1
    # RFC 8707: the resource the metadata named
    assert auth.requests[0]["resource"] == f"{base}/s/d/mcp"
    assert checks["d"].refused == 1  # only the very first request, before discovery


@pytest.mark.parametrize("with_refresh_token", [False, True])
async def test_token_refreshed_before_expiry_without_a_discovery_failing(
    with_refresh_token: bool,
) -> None:
    """Short-lived tokens (the clock scaled: 2 s for an hour) are replaced ahead by the timer."""
    auth = AuthServer(expires_in=2, give_refresh=with_refresh_token)
    async with serving(auth, ["r"]) as (base, checks):
        spec = protected(base, "r", oauth(f"{base}/token", expiry_buffer=0.5))
        async with UpstreamClient(settings()) as client:
            results = []
            with anyio.move_on_after(4.5):
                while True:
                    results.append(await client.fetch(spec))
                    await anyio.sleep(0.05)
    assert results and all(r.error is None for r in results), [r.error for r in results]
    assert checks["r"].refused == 0  # never sent an expired token
    assert len(auth.requests) >= 3  # the first, then refreshes ahead (about every 1.2 s)
    grants = {form["grant_type"] for form in auth.requests[1:]}
    assert grants == ({"refresh_token"} if with_refresh_token else {"client_credentials"})


@pytest.mark.parametrize("configured", [True, False])
async def test_twenty_concurrent_discoveries_make_one_token_request(configured: bool) -> None:
    """Single flight per (server, client): whoever needs a token meanwhile waits for it."""
    auth = AuthServer()
    async with serving(auth, ["c"]) as (base, _):
        spec = protected(base, "c", oauth(f"{base}/token" if configured else None))
        results = []
        async with UpstreamClient(settings()) as client:

            async def one() -> None:
                results.append(await client.fetch(spec))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
    assert len(results) == 20 and all(r.error is None for r in results)
    assert len(auth.requests) == 1


async def test_a_revoked_token_is_answered_by_one_refresh_and_one_retry() -> None:
    """The upstream's 401 to a held token: one new token, the request sent once more."""
    auth = AuthServer()
    async with serving(auth, ["v"]) as (base, checks):
        spec = protected(base, "v", oauth(f"{base}/token"))
        async with UpstreamClient(settings()) as client:
            first = await client.fetch(spec)
            auth.revoke_all()
            second = await client.fetch(spec)
    assert first.error is None and second.error is None, second.error
    assert len(auth.requests) == 2
    assert checks["v"].refused == 1


async def test_a_token_still_refused_after_the_retry_is_an_http_error() -> None:
    """One retry, not a loop: an upstream that refuses every token fails the discovery."""
    auth = AuthServer()
    async with serving(auth, ["x"]) as (base, checks):
        auth.is_valid = lambda token: False  # type: ignore[method-assign]
        async with UpstreamClient(settings()) as client:
            result = await client.fetch(protected(base, "x", oauth(f"{base}/token")))
    assert result.error is not None and result.error.http_status == 401
    assert len(auth.requests) == 2  # the token, then the one forced refresh
    assert checks["x"].refused == 2


async def test_a_wrong_client_secret_is_reported_as_such_and_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """invalid_client says the credentials were refused; the secret is in no message or log."""
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-Xy8-abcdef"
    auth = AuthServer()
    async with serving(auth, ["w"]) as (base, _):
        spec = protected(base, "w", oauth(f"{base}/token", client_secret=Secret(wrong)))
        async with UpstreamClient(settings()) as client:
            result = await client.fetch(spec)
            status = client.tokens.status()
    assert result.error is not None
    assert result.error.kind is ErrorKind.AUTH_FAILED
    assert "invalid_client" in result.error.message
    assert "client_secret" in result.error.message
    shown = result.error.message + caplog.text + repr(status)
    assert wrong not in shown and CLIENT_SECRET not in shown
    assert [s.held for s in status] == [False]


async def test_https_token_endpoint_verified_with_the_configured_ca(
    redis_tls_files: TlsFiles,
) -> None:
    """The token endpoint over HTTPS with a test CA: trusted through ca_bundle, refused without."""
    auth = AuthServer()
    async with (
        serving(auth, ["h"]) as (base, _),
        serving(auth, [], tls=redis_tls_files) as (tls_base, _),
    ):
        auth.base = base
        good = oauth(f"{tls_base}/token", ca_bundle=str(redis_tls_files.ca_path))
        bad = oauth(f"{tls_base}/token", scope="other")  # another client: the system's CAs
        async with UpstreamClient(settings()) as client:
            trusted = await client.fetch(protected(base, "h", good))
            untrusted = await client.fetch(protected(base, "h", bad))
    assert trusted.error is None, trusted.error
    assert untrusted.error is not None and untrusted.error.kind is ErrorKind.AUTH_FAILED
    assert "unreachable" in untrusted.error.message or "ConnectError" in untrusted.error.message


async def test_status_shows_a_held_token_and_its_expiry_never_the_token() -> None:
    """Per server: held, expires_at; no access token in what status shows."""
    auth = AuthServer(expires_in=600)
    async with serving(auth, ["s"]) as (base, _), UpstreamClient(settings()) as client:
        await client.fetch(protected(base, "s", oauth(f"{base}/token")))
        status = client.tokens.status()
    (row,) = status
    assert row.held and row.expires_at is not None and row.server == f"{base}/s/s/mcp"
    assert not any(token in repr(status) for token in auth.valid)


async def test_sse_upstream_carries_the_token() -> None:
    """The SSE transport sends through the same authorized path (checked on the token endpoint)."""
    from mcp_discoveryd.models import Transport

    auth = AuthServer()
    async with serving(auth, ["e"]) as (base, _):
        spec = protected(base, "e", oauth(f"{base}/token"))
        sse = replace(spec, target=replace(spec.target, transport=Transport.SSE))  # type: ignore[arg-type]
        async with UpstreamClient(settings()) as client:
            await client.fetch(sse)
    assert len(auth.requests) == 1  # a token was got for the SSE session's first request


async def test_a_token_request_cancelled_midway_leaves_the_cache_whole() -> None:
    """Cancelled while the token endpoint is slow: the lock is free and the next caller gets one."""
    from mcp_discoveryd.auth.tokens import TokenCache

    auth = AuthServer()
    slow = anyio.Event()
    original = auth.token

    async def slow_token(request: object) -> object:
        await slow.wait()
        return await original(request)  # type: ignore[arg-type]

    auth.token = slow_token  # type: ignore[assignment, method-assign]
    async with serving(auth, ["q"]) as (base, _):
        spec = oauth(f"{base}/token")
        async with TokenCache() as tokens:
            with anyio.move_on_after(0.5) as scope:
                await tokens.token(spec, f"{base}/s/q/mcp")
            assert scope.cancelled_caught
            slow.set()
            with anyio.fail_after(5):
                token = await tokens.token(spec, f"{base}/s/q/mcp")
            assert token.access.reveal() in auth.valid
            (row,) = tokens.status()
            assert row.held


async def test_mtls_client_certificate_to_the_token_endpoint(redis_tls_files: TlsFiles) -> None:
    """A token endpoint that requires a client certificate: served with one, refused without."""
    from tests.auth.support import client_certificate

    cert, key = client_certificate(redis_tls_files)
    auth = AuthServer()
    ca = str(redis_tls_files.ca_path)
    async with (
        serving(auth, ["m"]) as (base, _),
        serving(auth, [], tls=redis_tls_files, mtls=True) as (tls_base, _),
    ):
        auth.base = base
        with_cert = oauth(f"{tls_base}/token", ca_bundle=ca, client_cert=cert, client_key=key)
        without = oauth(f"{tls_base}/token", ca_bundle=ca, scope="no-cert")
        async with UpstreamClient(settings()) as client:
            good = await client.fetch(protected(base, "m", with_cert))
            bad = await client.fetch(protected(base, "m", without))
    assert good.error is None, good.error
    assert len(auth.requests) == 1  # the one without a certificate never got past TLS
    assert bad.error is not None and bad.error.kind is ErrorKind.AUTH_FAILED


async def test_a_token_nobody_asks_for_stops_being_refreshed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server gone (a reload removed it): its timer lets the token lapse and drops it."""
    from mcp_discoveryd.auth import tokens as tokens_module

    monkeypatch.setattr(tokens_module, "IDLE_SPANS", 1)  # idle after one span (1.5 s here)
    monkeypatch.setattr(tokens_module, "IDLE_MIN", 0.0)
    auth = AuthServer(expires_in=2)
    async with serving(auth, ["i"]) as (base, _):
        spec = oauth(f"{base}/token", expiry_buffer=0.5)
        url = f"{base}/s/i/mcp"
        async with tokens_module.TokenCache() as tokens:
            await tokens.token(spec, url)
            await anyio.sleep(4.0)
            assert tokens.status() == []  # dropped once idle
            assert len(auth.requests) == 2  # the first, one refresh while still recent, no more
            await tokens.token(spec, url)  # asked again: got on demand
    assert len(auth.requests) == 3
