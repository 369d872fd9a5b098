"""Tokens shared through a real Redis: sealed with AES-GCM, under hashed key names."""

from __future__ import annotations

import random

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.auth.authserver import CLIENT_ID, AuthServer
from tests.auth.support import oauth, protected, serving
from tests.cache.builders import redis_settings
from tests.cache.redis_servers import RedisServer
from tests.discovery.upstream_support import settings, tool_names
from tests.servers.sdk_servers import HIGH_TOOLS

from mcp_discoveryd.auth import tokens as tokens_module
from mcp_discoveryd.auth.grant import Token
from mcp_discoveryd.auth.store import RedisTokens, seal, token_cipher, unseal
from mcp_discoveryd.auth.tokens import TokenCache
from mcp_discoveryd.cache.keys import KeySpace
from mcp_discoveryd.cache.redis import RedisConnection
from mcp_discoveryd.cache.stats import CacheStats
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.secret import Secret

KEY = Secret("k" * 16 + "-token-sealing-key-0123")
OTHER_KEY = Secret("o" * 16 + "-another-sealing-key-987")


async def test_tokens_in_redis_are_encrypted_never_in_key_names_and_shared(
    redis_server: RedisServer,
) -> None:
    """Host A gets the token; host B (same key) uses it without asking; Redis holds no clear text."""
    auth = AuthServer(give_refresh=True)
    connection = RedisConnection.from_settings(redis_settings(redis_server.url), stats=CacheStats())
    keys = KeySpace("mcpd", "hmac-secret")
    try:
        async with serving(auth, ["r"]) as (base, _):
            spec = protected(base, "r", oauth(f"{base}/token"))
            for _host in ("a", "b"):
                async with (
                    TokenCache(RedisTokens(connection, keys, KEY)) as tokens,
                    UpstreamClient(settings(), tokens=tokens) as client,
                ):
                    result = await client.fetch(spec)
                    assert tool_names(result) == list(HIGH_TOOLS), result.error
            names = [n.decode() for n in await connection.call("t", "KEYS", "*")]
            (name,) = names
            raw = bytes(await connection.call("t", "GET", name))
            ttl = await connection.call("t", "PTTL", name)
    finally:
        await connection.aclose()
    assert len(auth.requests) == 1  # host B used host A's token
    (access,) = auth.valid
    for clear in (access, "rt-0", CLIENT_ID, base, "r/mcp"):
        assert clear.encode() not in raw and clear not in name
    assert name.startswith("mcpd:v1:oauth:")
    assert 0 < ttl <= 3600 * 1000


async def test_a_token_sealed_under_another_key_is_not_used(redis_server: RedisServer) -> None:
    """A host with the wrong key cannot read the token: it gets its own."""
    auth = AuthServer()
    connection = RedisConnection.from_settings(redis_settings(redis_server.url), stats=CacheStats())
    keys = KeySpace("mcpd")
    try:
        async with serving(auth, ["k"]) as (base, _):
            spec = protected(base, "k", oauth(f"{base}/token"))
            for key in (KEY, OTHER_KEY):
                async with (
                    TokenCache(RedisTokens(connection, keys, key)) as tokens,
                    UpstreamClient(settings(), tokens=tokens) as client,
                ):
                    assert (await client.fetch(spec)).error is None
    finally:
        await connection.aclose()
    assert len(auth.requests) == 2


@given(
    access=st.text(min_size=1, max_size=200),
    refresh=st.none() | st.text(min_size=1, max_size=200),
    expires=st.none() | st.floats(min_value=0, max_value=4e9),
    name=st.text(min_size=1, max_size=80),
)
def test_sealed_tokens_round_trip_and_hold_no_clear_text(
    access: str, refresh: str | None, expires: float | None, name: str
) -> None:
    """Whatever the token, its sealed bytes do not contain it, and only its own key name opens them."""
    cipher = token_cipher(KEY)
    token = Token(Secret(access), expires, None if refresh is None else Secret(refresh), 1.0)
    data = seal(cipher, name, token)
    if len(access) >= 8:
        assert access.encode() not in data
    assert unseal(cipher, name, data) == token
    assert unseal(cipher, name + "x", data) is None
    assert unseal(token_cipher(OTHER_KEY), name, data) is None


class Early(random.Random):
    """Jitter drawn at its largest: this host's refresh timers always fire first."""

    def uniform(self, a: float, b: float) -> float:
        """The top of the range."""
        return b


class Late(random.Random):
    """Jitter drawn at its smallest: this host's refresh timers always fire last."""

    def uniform(self, a: float, b: float) -> float:
        """The bottom of the range."""
        return a


async def test_hosts_sharing_a_token_refresh_it_once_between_them(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two daemons on one Redis: the refresh one makes ahead is the other's too.

    The jitter keeps the hosts' timers apart; here each host draws one end of it, widened
    to half the token's usable span (0.75 s with the clock scaled to 2 s an hour), so the
    late host's timer finds the early one's token however slow a token request and its
    write are. Drawn at random, the gap was at most 0.15 s, which a loaded machine's
    request and write outlasted.
    """
    monkeypatch.setattr(tokens_module, "REFRESH_JITTER", 0.5)
    auth = AuthServer(expires_in=2)
    connection = RedisConnection.from_settings(redis_settings(redis_server.url), stats=CacheStats())
    keys = KeySpace("mcpd")
    try:
        async with serving(auth, ["h"]) as (base, _):
            spec = oauth(f"{base}/token", expiry_buffer=0.5)
            url = f"{base}/s/h/mcp"
            async with (
                TokenCache(RedisTokens(connection, keys, KEY), rng=Early()) as a,
                TokenCache(RedisTokens(connection, keys, KEY), rng=Late()) as b,
            ):
                with anyio.move_on_after(4.0):
                    while True:
                        for host in (a, b):
                            token = await host.token(spec, url)
                            assert auth.is_valid(token.access.reveal())
                        await anyio.sleep(0.05)
    finally:
        await connection.aclose()
    assert b.requests == 0  # its first token and every refresh were the early host's
    assert a.requests >= 3  # the first token, then refreshes ahead (about every 0.5 s)
    assert len(auth.requests) == a.requests


async def test_an_unreachable_redis_leaves_tokens_working_from_memory() -> None:
    """The shared store down: tokens are got and kept here, nothing fails."""
    auth = AuthServer()
    dead = RedisConnection.from_settings(
        redis_settings("redis://127.0.0.1:9/0"), stats=CacheStats(), socket_connect_timeout=0.5
    )
    try:
        async with serving(auth, ["n"]) as (base, _):
            spec = protected(base, "n", oauth(f"{base}/token"))
            async with (
                TokenCache(RedisTokens(dead, KeySpace("mcpd"), KEY)) as tokens,
                UpstreamClient(settings(), tokens=tokens) as client,
            ):
                first = await client.fetch(spec)
                second = await client.fetch(spec)
    finally:
        await dead.aclose()
    assert first.error is None and second.error is None, first.error
    assert len(auth.requests) == 1
