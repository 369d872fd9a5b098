"""``clear --type tokens``: the OAuth access tokens dropped, so the next discovery gets new ones.

Real authorization server and protected MCP servers (tests/auth/authserver.py); the
shared store on a real redis-server; the daemon end to end over its control socket,
the CLI and the metrics. Which servers a scope covers is checked over generated configs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from tests.auth.authserver import CLIENT_SECRET, AuthServer
from tests.auth.support import oauth, protected, serving
from tests.auth.test_enkrypt_end_to_end import enkrypt_config
from tests.auth.test_login import _logged_in
from tests.cache.builders import redis_settings
from tests.cache.redis_servers import RedisServer
from tests.control.support import served, short_dir
from tests.discovery.upstream_support import settings
from tests.telemetry.memory_reader import sums

from mcp_discoveryd.auth.clearing import clear_tokens, is_token_type, oauth_servers
from mcp_discoveryd.auth.logins import LoginStore
from mcp_discoveryd.auth.spec import OAuthSpec
from mcp_discoveryd.auth.store import RedisTokens
from mcp_discoveryd.auth.tokens import TokenCache
from mcp_discoveryd.cache.keys import KeySpace
from mcp_discoveryd.cache.redis import RedisConnection
from mcp_discoveryd.cache.stats import CacheStats
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonConfig, GatewayConfig
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.errors import CacheUnavailableError
from mcp_discoveryd.models import ErrorKind, RemoteTarget, ServerSpec, StdioTarget
from mcp_discoveryd.secret import Secret
from mcp_discoveryd.telemetry import instruments as i

KEY = Secret("k" * 16 + "-token-sealing-key-0123")


def client_of(spec: ServerSpec) -> tuple[OAuthSpec, str]:
    """The server's OAuth client and URL: what the token cache is asked with."""
    target = spec.target
    assert isinstance(target, RemoteTarget) and target.oauth is not None
    return target.oauth, target.url.reveal()


async def test_a_cleared_token_is_replaced_at_the_next_discovery_and_others_are_kept() -> None:
    auth = AuthServer()
    async with serving(auth, ["a", "b"]) as (base, _):
        spec_a = protected(base, "a", oauth(f"{base}/token"))
        spec_b = protected(base, "b", oauth(f"{base}/token", scope="b"))
        async with TokenCache() as tokens, UpstreamClient(settings(), tokens=tokens) as client:
            for spec in (spec_a, spec_b, spec_a):
                assert (await client.fetch(spec)).error is None
            assert len(auth.requests) == 2  # one token each, the second fetch of a reused it
            client_a = client_of(spec_a)
            identity_a = client_a[0].identity(client_a[1])
            assert await tokens.clear({identity_a}) == 1
            held_a = tokens.status_of(*client_a)
            assert await tokens.clear({identity_a}) == 0  # nothing held any more
            for spec in (spec_a, spec_b):
                assert (await client.fetch(spec)).error is None
            outcomes = tokens.outcomes_of(*client_a)
    assert not held_a.held
    assert len(auth.requests) == 3  # a got a new token; b's was kept
    assert outcomes == {"issued": 2}


async def test_requests_are_counted_as_refreshed_when_a_refresh_token_is_used() -> None:
    auth = AuthServer(expires_in=2, give_refresh=True)
    async with serving(auth, ["r"]) as (base, _):
        spec = protected(base, "r", oauth(f"{base}/token", expiry_buffer=0.5))
        async with TokenCache() as tokens, UpstreamClient(settings(), tokens=tokens) as client:
            assert (await client.fetch(spec)).error is None
            await anyio.sleep(2.0)  # the timer refreshes ahead at about 1.2 s
            outcomes = tokens.outcomes_of(*client_of(spec))
    assert outcomes.get("issued") == 1 and outcomes.get("refreshed", 0) >= 1
    assert "failed" not in outcomes


async def test_failed_token_requests_are_counted_as_failed() -> None:
    auth = AuthServer()
    async with serving(auth, ["w"]) as (base, _):
        spec = protected(base, "w", oauth(f"{base}/token", client_secret=Secret("wrong")))
        async with TokenCache() as tokens, UpstreamClient(settings(), tokens=tokens) as client:
            result = await client.fetch(spec)
            outcomes = tokens.outcomes_of(*client_of(spec))
    assert result.error is not None and result.error.kind is ErrorKind.AUTH_FAILED
    assert outcomes.get("failed", 0) >= 1 and "issued" not in outcomes


@pytest.mark.redis
async def test_a_cleared_token_is_gone_from_the_shared_store_too(redis_server: RedisServer) -> None:
    """Host A clears: host B, same store, cannot pick the old token up; it gets a new one."""
    auth = AuthServer()
    connection = RedisConnection.from_settings(redis_settings(redis_server.url), stats=CacheStats())
    keys = KeySpace("mcpd", "hmac-secret")
    try:
        async with serving(auth, ["s"]) as (base, _):
            spec = protected(base, "s", oauth(f"{base}/token"))
            oauth_spec, url = client_of(spec)
            identity = oauth_spec.identity(url)
            async with (
                TokenCache(RedisTokens(connection, keys, KEY)) as tokens,
                UpstreamClient(settings(), tokens=tokens) as client,
            ):
                assert (await client.fetch(spec)).error is None
                assert len(await connection.call("t", "KEYS", "*:oauth:*")) == 1
                assert await tokens.clear({identity}) == 1
                left = await connection.call("t", "KEYS", "*:oauth:*")
            async with (
                TokenCache(RedisTokens(connection, keys, KEY)) as tokens,
                UpstreamClient(settings(), tokens=tokens) as client,
            ):
                assert (await client.fetch(spec)).error is None
    finally:
        await connection.aclose()
    assert left == []
    assert len(auth.requests) == 2  # host B asked for its own


async def test_a_clear_that_cannot_reach_the_shared_store_says_so_instead_of_success() -> None:
    """Nothing answers on the store's port: the token held here is dropped, and the error
    comes out (its copy in the store would be used again); the reply is an error."""
    auth = AuthServer()
    unreachable = redis_settings("redis://127.0.0.1:1/0")
    connection = RedisConnection.from_settings(unreachable, stats=CacheStats())
    try:
        async with serving(auth, ["u"]) as (base, _):
            spec = protected(base, "u", oauth(f"{base}/token"))
            oauth_spec, url = client_of(spec)
            gateways = (GatewayConfig(id="g", servers=(spec,)),)
            config = DaemonConfig(path="x.toml", format="toml", gateways=gateways)
            async with (
                TokenCache(RedisTokens(connection, KeySpace("mcpd"), KEY)) as tokens,
                UpstreamClient(settings(), tokens=tokens) as client,
            ):
                assert (await client.fetch(spec)).error is None  # the store is not needed
                with pytest.raises(CacheUnavailableError):
                    await tokens.clear({oauth_spec.identity(url)})
                held = tokens.status_of(oauth_spec, url).held
                assert (await client.fetch(spec)).error is None
                reply = await clear_tokens(tokens, config, "g", "u")
    finally:
        await connection.aclose()
    assert not held  # dropped here all the same
    assert reply["status"] == "error" and "not the shared store's copy" in str(reply["message"])


@pytest.mark.slow
@pytest.mark.redis
async def test_a_busy_shared_store_is_no_token_and_discovery_goes_on(
    redis_server: RedisServer,
) -> None:
    """The store's pool held by subscriptions: reading and writing the shared token end
    busy; the token is got and used here (before, the busy error failed the discovery)."""
    auth = AuthServer()
    tiny = redis_settings(f"{redis_server.url}?max_connections=2")
    connection = RedisConnection.from_settings(tiny, stats=CacheStats())
    try:
        async with serving(auth, ["t"]) as (base, _):
            spec = protected(base, "t", oauth(f"{base}/token"))
            async with (
                connection.subscribe("a") as _,
                connection.subscribe("b") as _,
                TokenCache(RedisTokens(connection, KeySpace("mcpd"), KEY)) as tokens,
                UpstreamClient(settings(), tokens=tokens) as client,
            ):
                result = await client.fetch(spec)
    finally:
        await connection.aclose()
    assert result.error is None, result.error
    assert len(auth.requests) == 1


@pytest.mark.slow
@pytest.mark.parametrize("forget", [False, True])
async def test_a_stored_login_stays_unless_the_operator_asks_to_forget_it(
    tmp_path: Path, forget: bool
) -> None:
    """authorization_code: after a clear the next token is a refresh from the stored login;
    with forget_logins the login is gone and a person must log in again."""
    auth = AuthServer(give_refresh=True)
    async with serving(auth, ["p"]) as (base, _):
        stored = await _logged_in(auth, base, tmp_path, "p")
        oauth_spec = oauth(None, grant="authorization_code", client_secret=None)
        spec = protected(base, "p", oauth_spec)
        async with (
            TokenCache(logins=LoginStore(tmp_path)) as tokens,
            UpstreamClient(settings(), tokens=tokens) as client,
        ):
            assert (await client.fetch(spec)).error is None
            dropped = await tokens.clear(forget_logins=forget)
            again = await client.fetch(spec)
    assert dropped == 1
    grants = [form["grant_type"] for form in auth.requests]
    if forget:
        assert not stored.exists()
        assert again.error is not None and "auth login" in again.error.message
        assert grants == ["authorization_code", "refresh_token"]
    else:
        assert stored.exists() and again.error is None
        assert grants == ["authorization_code", "refresh_token", "refresh_token"]


_names = st.sampled_from(["a", "b", "c"])


@given(
    layout=st.dictionaries(
        st.sampled_from(["g1", "g2"]),
        st.dictionaries(_names, st.sampled_from(["oauth", "plain", "stdio"]), min_size=1),
        min_size=1,
    ),
    gateway=st.none() | st.sampled_from(["g1", "g2"]),
    server=st.none() | _names,
)
def test_a_token_clear_covers_exactly_the_oauth_servers_in_its_scope(
    layout: dict[str, dict[str, str]], gateway: str | None, server: str | None
) -> None:
    gateways = []
    for gw, servers in layout.items():
        specs = []
        for name, kind in servers.items():
            if kind == "stdio":
                specs.append(ServerSpec(name=name, target=StdioTarget(command="true")))
                continue
            target = remote_target(f"https://{gw}.example/{name}/mcp")
            if kind == "oauth":
                target = dataclasses.replace(target, oauth=oauth(None))
            specs.append(ServerSpec(name=name, target=target))
        gateways.append(GatewayConfig(id=gw, servers=tuple(specs)))
    config = DaemonConfig(path="x.toml", format="toml", gateways=tuple(gateways))
    chosen = {(s.gateway, s.server) for s in oauth_servers(config, gateway, server)}
    expected = {
        (gw, name)
        for gw, servers in layout.items()
        for name, kind in servers.items()
        if kind == "oauth" and gateway in (None, gw) and server in (None, name)
    }
    assert chosen == expected


@given(st.sampled_from(["tokens", "TOKENS", " oauth_tokens ", "all", "tools", "gateway"]))
def test_only_the_token_names_select_the_token_cache(name: str) -> None:
    assert is_token_type(name) == (name.strip().lower() in ("tokens", "oauth_tokens"))


@pytest.mark.slow
async def test_the_daemon_clears_tokens_over_its_socket_and_the_cli_and_counts_them(
    tmp_path: Path, reader: InMemoryMetricReader
) -> None:
    auth = AuthServer(expires_in=3600)
    async with serving(auth, ["weather"]) as (base, _):
        path = enkrypt_config(tmp_path / "enkrypt_mcp_config.json", base)
        with short_dir() as directory:
            config = load_config(path, env={})
            control = dataclasses.replace(config.control, socket=str(directory / "c.sock"))
            async with served(dataclasses.replace(config, control=control)) as s:
                gateway = s.daemon.config.gateways[0].id
                await s.client.discover("weather", gateway, refresh=True)
                assert len(auth.requests) == 1  # the preload's token was reused
                held_before = sums(reader, i.TOKENS_HELD.name)
                reply = await s.client.clear(gateway, "weather", "tokens")
                status = await s.client.status()
                await s.client.discover("weather", gateway, refresh=True)
                requests_after_discover = len(auth.requests)
                cli = await anyio.run_process(
                    [sys.executable, "-m", "mcp_discoveryd", "clear", "--type", "tokens"]
                    + ["--socket", s.socket, "--json"],
                    check=False,
                    env={**os.environ},
                )
                counted = sums(reader, i.TOKEN_REQUESTS.name)
                held_after = sums(reader, i.TOKENS_HELD.name)
    where = ((i.GATEWAY, gateway), (i.SERVER, "weather"))
    assert reply["status"] == "success" and reply["dropped"] == 1
    assert reply["servers"] == [f"{gateway}/weather"] and reply["forget_logins"] is False
    (row,) = status["daemon"]["oauth"]
    assert row["token_held"] is False  # dropped; nothing asked for one since
    assert requests_after_discover == 2  # the next discovery got a new token
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["dropped"] == 1
    assert held_before == {where: 1.0} and held_after == {where: 0.0}
    assert counted == {tuple(sorted((*where, (i.OUTCOME, "issued")))): 2.0}
    for shown in (json.dumps(reply), json.dumps(status), cli.stdout.decode()):
        assert CLIENT_SECRET not in shown and not any(t in shown for t in auth.valid)
