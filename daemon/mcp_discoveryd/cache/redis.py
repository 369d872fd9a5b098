"""The seam to redis-py: the only module that imports redis.

One connection type for the three topologies: a single server (``redis://``,
``rediss://`` for TLS, ``unix://``; user and password for ACLs; a database
number), Redis Cluster and Sentinel (the master is looked up through the
sentinels, which are asked with their own credentials and, for a ``rediss://`` URL,
over TLS). Work goes out as pipelines (``Batch``), one round trip each.
Everything redis-py raises is translated here to ``CacheUnavailableError``,
with secrets scrubbed from the message, except a pool that stayed exhausted for its
whole wait: that is load, ``CacheBusyError``, which never marks Redis down. Lua
scripts (``script``) and pub/sub (``subscribe``) go through the same seam.

Round trips queue in a ``Gate`` sized to the pool (less the connections that
subscriptions hold), so that the pool's own wait, which ends in an error, is not
where thousands of actors queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster, Sentinel
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    MaxConnectionsError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config.redis_url import url_options
from ..config.settings import CacheSettings
from ..errors import CacheBusyError, CacheUnavailableError
from ..secret import Secret, scrub
from .gate import Gate
from .stats import CacheStats

CONNECT_TIMEOUT = 2.0  # seconds; a Redis that does not answer is treated as down
COMMAND_TIMEOUT = 3.0  # with the one retry, a hung Redis is declared down within ~6 s
# Connections per daemon (a URL's max_connections overrides it). Round trips beyond them
# queue in the Gate, without a timeout; the pool's own wait (COMMAND_TIMEOUT) is reached
# only when subscriptions hold more connections than SUBSCRIPTIONS leaves them.
MAX_CONNECTIONS = 64
SUBSCRIPTIONS = 1  # pooled connections kept out of the gate: the invalidation listener's

Arg = str | int | float | bytes
_UNAVAILABLE = (RedisError, RedisClusterException, OSError, asyncio.TimeoutError)


class Batch:
    """A non-transactional pipeline that says where each command's reply will be."""

    def __init__(self, client: Any) -> None:
        self._pipe = client.pipeline(transaction=False)
        self.size = 0

    def __call__(self, *command: Arg) -> int:
        """Queue one command; returns the position of its reply."""
        self._pipe.execute_command(*command)
        self.size += 1
        return self.size - 1

    def extend(self, commands: Sequence[Sequence[Arg]]) -> None:
        """Queue several commands."""
        for command in commands:
            self(*command)

    def eval(self, source: str, keys: Sequence[str], args: Sequence[Arg]) -> int:
        """Queue a Lua script; its body travels each time, so no NOSCRIPT can fail the batch."""
        return self("EVAL", source, len(keys), *keys, *args)


ScriptCall = Callable[[Sequence[str], Sequence[Arg]], Awaitable[Any]]


class Subscription:
    """One pub/sub connection's incoming traffic: confirmations and messages, translated."""

    def __init__(self, pubsub: Any, translated: Callable[[str], Any]) -> None:
        self._pubsub = pubsub
        self._translated = translated

    async def next(self, wait: float) -> tuple[str, bytes] | None:
        """``("subscribe", channel)`` or ``("message", data)``; None after ``wait`` seconds of silence.

        redis-py reconnects a dropped connection and subscribes again by itself: that shows
        here as another ``subscribe``, the listener's cue that messages may have been lost.
        """
        with self._translated("pubsub"):
            reply = await self._pubsub.get_message(timeout=wait)
        if not isinstance(reply, dict) or reply.get("type") not in ("subscribe", "message"):
            return None
        data = reply.get("data")
        return str(reply["type"]), data if isinstance(data, bytes) else str(data).encode()

    async def ping(self) -> None:
        """Ask for a reply on this connection, so a dead one is found while all is quiet."""
        with self._translated("pubsub"):
            await self._pubsub.ping()


class RedisConnection:
    """A redis-py client with timed, translated round trips."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis or RedisCluster: the same command API
        *,
        kind: str,
        stats: CacheStats,
        secrets: Sequence[Secret] = (),
        closers: Sequence[Any] = (),
        max_in_flight: int = MAX_CONNECTIONS - SUBSCRIPTIONS,
    ) -> None:
        self.kind = kind  # "redis", "redis-cluster" or "redis-sentinel"
        self.gate = Gate(max(1, max_in_flight), kind)
        self._client = client
        self._stats = stats
        self._secrets = tuple(secrets)
        self._closers = tuple(closers)

    @classmethod
    def from_settings(
        cls, settings: CacheSettings, *, stats: CacheStats, **client_options: Any
    ) -> RedisConnection:
        """A connection for the configured URL, Cluster or Sentinel set (nothing dialled yet)."""
        client, kind, closers = _make_client(settings, client_options)
        return cls(
            client,
            kind=kind,
            stats=stats,
            secrets=_secrets(settings),
            closers=closers,
            max_in_flight=_pool_size(client) - SUBSCRIPTIONS,
        )

    def batch(self) -> Batch:
        """An empty pipeline to fill and ``run``."""
        return Batch(self._client)

    async def run(self, batch: Batch, operation: str) -> list[Any]:
        """Send a pipeline in one round trip and return its replies in order."""
        async with self._admitted(operation):
            replies: list[Any] = await batch._pipe.execute()
        return replies

    async def call(self, operation: str, *command: Arg) -> Any:
        """One command, one round trip."""
        async with self._admitted(operation):
            return await self._client.execute_command(*command)

    async def ping(self) -> None:
        """A round trip that proves the server answers and accepts our credentials."""
        await self.call("ping", "PING")

    def script(self, operation: str, source: str) -> ScriptCall:
        """A Lua script run by its digest (EVALSHA, loaded again when Redis lost it)."""
        registered = self._client.register_script(source)

        async def call(keys: Sequence[str], args: Sequence[Arg]) -> Any:
            async with self._admitted(operation):
                return await registered(keys=list(keys), args=list(args))

        return call

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """A dedicated pub/sub connection listening on ``channel``, closed on exit."""
        if self.kind == "redis-cluster":
            with self._translated("subscribe"):
                await self._client.initialize()  # the cluster's pub/sub needs its slot map
        pubsub = self._client.pubsub()
        try:
            with self._translated("subscribe"):
                await pubsub.subscribe(channel)
            yield Subscription(pubsub, self._untimed)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await pubsub.aclose()
                except _UNAVAILABLE:
                    pass

    async def aclose(self) -> None:
        """Close every connection; errors on the way out are not worth raising."""
        for client in (self._client, *self._closers):
            try:
                await client.aclose()
            except _UNAVAILABLE:
                pass

    @asynccontextmanager
    async def _admitted(self, operation: str) -> AsyncIterator[None]:
        """A round trip: queued in the gate (untimed), then timed and translated."""
        async with self.gate.admitted():
            with self._translated(operation):
                yield

    @contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        with self._stats.timed(operation, self.kind), self._untimed(operation):
            yield

    @contextmanager
    def _untimed(self, operation: str) -> Iterator[None]:
        # Pub/sub waits are not operations: timing them would swamp the latency figures.
        try:
            yield
        except _UNAVAILABLE as exc:
            if _pool_exhausted(exc):
                reason = "no pooled connection came free in time (load, not an outage)"
                raise CacheBusyError(self.kind, reason) from None
            raise CacheUnavailableError(self.kind, self._reason(exc)) from None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc)
        if isinstance(exc, AuthenticationError) or "WRONGPASS" in text:
            reason = "authentication failed (check the username and password)"
        elif isinstance(exc, ResponseError) and text.startswith("NOAUTH"):
            reason = "authentication required (no password configured)"
        elif isinstance(exc, ResponseError) and text.startswith("OOM"):
            reason = "out of memory (maxmemory reached and the policy evicts nothing)"
        elif isinstance(exc, RedisTimeoutError | asyncio.TimeoutError):
            reason = "timed out"
        else:
            reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return scrub(reason, self._secrets)


def _make_client(settings: CacheSettings, options: Mapping[str, Any]) -> tuple[Any, str, list[Any]]:
    """The redis-py client for the settings, its kind, and extra clients to close."""
    common: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": COMMAND_TIMEOUT,
        # One immediate retry: a pooled connection broken by a server restart reconnects.
        "retry": Retry(NoBackoff(), 1),
        **options,
    }
    if settings.password is not None:
        common["password"] = settings.password.reveal()
    try:
        if settings.sentinels:
            common.update(_url_connection(settings.url.reveal() if settings.url else None))
            sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                [_host_port(address) for address in settings.sentinels],
                sentinel_kwargs=_sentinel_kwargs(settings),
                **common,
            )
            client = sentinel.master_for(settings.sentinel_service)
            return client, "redis-sentinel", list(sentinel.sentinels)
        url = settings.url.reveal() if settings.url else "redis://localhost:6379/0"
        if settings.cluster:
            return RedisCluster.from_url(url, **common), "redis-cluster", []
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=COMMAND_TIMEOUT, **common
        )
        return Redis.from_pool(pool), "redis", []
    except (ValueError, TypeError, RedisClusterException) as exc:
        # The config loader checks URLs and their options; this catches what only redis-py
        # knows is wrong (a TypeError is an option a connection class does not take).
        reason = scrub(f"bad connection settings: {exc}", _secrets(settings))
        raise CacheUnavailableError("redis", reason) from None


def _pool_exhausted(exc: BaseException) -> bool:
    """True for redis-py's "no free connection" errors: the pool's, not the server's."""
    if isinstance(exc, MaxConnectionsError):  # a non-blocking pool, or a cluster node's
        return True
    # BlockingConnectionPool: a plain ConnectionError raised from its wait's TimeoutError
    return (
        isinstance(exc, RedisConnectionError)
        and isinstance(exc.__cause__, asyncio.TimeoutError)
        and "No connection available" in str(exc)
    )


def _pool_size(client: Any) -> int:
    """How many connections the client's pool may open (a URL may have set it).

    A non-blocking pool (Sentinel's) fails at once past its size, so the gate never
    admits more than MAX_CONNECTIONS there; a cluster has a pool per node.
    """
    pool = getattr(client, "connection_pool", None)
    size = getattr(pool, "max_connections", None)
    if not isinstance(size, int):
        return MAX_CONNECTIONS
    return size if isinstance(pool, BlockingConnectionPool) else min(size, MAX_CONNECTIONS)


def _secrets(settings: CacheSettings) -> tuple[Secret, ...]:
    """What redis-py's error text is scrubbed of: the passwords and the URL's credentials."""
    passwords = (settings.password, settings.sentinel_password)
    found = tuple(secret for secret in passwords if secret is not None)
    return found + (settings.url.secrets() if settings.url else ())


def _url_connection(url: str | None) -> dict[str, Any]:
    """Credentials, database, TLS and options of a URL given alongside Sentinel addresses."""
    if not url:
        return {}
    parts = urlsplit(url)
    out: dict[str, Any] = _tls(url)
    if parts.username:
        out["username"] = unquote(parts.username)
    if parts.password:
        out["password"] = unquote(parts.password)
    if parts.path.strip("/").isdigit():
        out["db"] = int(parts.path.strip("/"))
    out.update(url_options(url))  # db in the query wins over the path, as in redis-py
    return out


def _sentinel_kwargs(settings: CacheSettings) -> dict[str, Any]:
    """How to reach the sentinels: their own credentials, and TLS when the master's URL is rediss.

    Sentinels run with their own ``requirepass`` (often none, and one without it refuses
    AUTH), so the master's password is never sent to them: ``sentinel_password`` is.
    """
    kwargs: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": COMMAND_TIMEOUT,
        **_tls(settings.url.reveal() if settings.url else None),
    }
    if settings.sentinel_username is not None:
        kwargs["username"] = settings.sentinel_username
    if settings.sentinel_password is not None:
        kwargs["password"] = settings.sentinel_password.reveal()
    return kwargs


def _tls(url: str | None) -> dict[str, Any]:
    """TLS on, with the URL's ssl_* options (CA, client certificate), for a rediss:// URL."""
    if not url or urlsplit(url).scheme != "rediss":
        return {}
    options = {k: v for k, v in url_options(url).items() if k.startswith("ssl_")}
    return {"ssl": True, **options}


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
