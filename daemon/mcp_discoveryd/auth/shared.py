"""The daemon's token cache: in memory, or shared through Redis when [cache] share_tokens says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..config.settings import DaemonConfig
from ..config.token_key import read_token_key
from .logins import LoginStore
from .tokens import TokenCache


@asynccontextmanager
async def token_cache(config: DaemonConfig) -> AsyncIterator[TokenCache]:
    """The token cache of a running daemon, its refresh timers running; closed on exit."""
    key = read_token_key(config.cache)
    logins = LoginStore(config.daemon.state_dir)
    if key is None or config.cache.backend != "redis":
        async with TokenCache(logins=logins) as tokens:
            yield tokens
        return
    from ..cache.keys import KeySpace
    from ..cache.redis import RedisConnection
    from ..cache.stats import CacheStats
    from .store import RedisTokens

    settings = config.cache
    connection = RedisConnection.from_settings(settings, stats=CacheStats())
    keys = KeySpace(
        settings.key_prefix, settings.key_secret.reveal() if settings.key_secret else None
    )
    try:
        async with TokenCache(RedisTokens(connection, keys, key), logins=logins) as tokens:
            yield tokens
    finally:
        await connection.aclose()
