"""Fixtures that start real Redis servers (standalone, ACL, TLS, Cluster, Sentinel).

A missing ``redis-server`` (or ``openssl`` for TLS) skips the test locally and fails it
when ``CI=true``: in CI a missing dependency never passes as a skip.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cache.redis_config import ServerConfig, TlsFiles
from tests.cache.redis_servers import RedisFactory, RedisServer, RedisTlsFactory
from tests.cache.redis_tls import make_tls_files
from tests.cache.redis_topologies import (
    RedisCluster,
    RedisSentinel,
    RedisSentinelFactory,
    SharedCluster,
)
from tests.conftest import require_binary


def _need_redis() -> None:
    require_binary("redis-server", "redis-server (Debian package)")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh standalone redis-server without persistence, stopped after the test."""
    _need_redis()
    server = RedisServer.launch()
    yield server
    server.close()


@pytest.fixture
def redis_factory() -> Iterator[RedisFactory]:
    """Start standalone servers with passwords, ACL users or memory limits; all stopped after."""
    _need_redis()
    started: list[RedisServer] = []

    def factory(
        *,
        password: str | None = None,
        acl_user: str | None = None,
        acl_password: str | None = None,
        maxmemory: int | str | None = None,
        maxmemory_policy: str | None = None,
        persistence: bool = False,
    ) -> RedisServer:
        config = ServerConfig(
            password=password,
            acl_user=acl_user,
            acl_password=acl_password,
            maxmemory=maxmemory,
            maxmemory_policy=maxmemory_policy,
            persistence=persistence,
        )
        started.append(RedisServer.launch(config))
        return started[-1]

    yield factory
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def redis_tls_files() -> Iterator[TlsFiles]:
    """A CA and a server certificate for 127.0.0.1, made once per session."""
    require_binary("openssl", "openssl CLI (makes the TLS test certificates)")
    directory = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))
    yield make_tls_files(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_tls_factory(redis_tls_files: TlsFiles) -> Iterator[RedisTlsFactory]:
    """Start TLS-only servers (``rediss://``, CA at ``.ca_path``); all stopped after the test."""
    _need_redis()
    started: list[RedisServer] = []

    def factory(
        *,
        password: str | None = None,
        acl_user: str | None = None,
        acl_password: str | None = None,
    ) -> RedisServer:
        config = ServerConfig(
            password=password,
            acl_user=acl_user,
            acl_password=acl_password,
            tls=redis_tls_files,
        )
        started.append(RedisServer.launch(config))
        return started[-1]

    yield factory
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def _redis_cluster_holder() -> Iterator[SharedCluster]:
    _need_redis()
    holder = SharedCluster()
    # Launched here, in session scope, so that it runs before a test's leftover-process
    # snapshot; a cluster rebuilt later is covered by SESSION_PIDS instead.
    holder.get()
    yield holder
    holder.close()


@pytest.fixture
def redis_cluster(_redis_cluster_holder: SharedCluster) -> RedisCluster:
    """A three-master Redis Cluster shared by the session, emptied before each test.

    Its processes are listed in ``SESSION_PIDS``. A test may stop or kill nodes; the next
    test then gets a rebuilt cluster (about 2 s: Redis holds a new master's state at
    "fail" for its first 2 s).
    """
    return _redis_cluster_holder.get()


@pytest.fixture
def redis_sentinel_factory(redis_tls_files: TlsFiles) -> Iterator[RedisSentinelFactory]:
    """Start sentinel pairs with passwords (each its own) and TLS; all stopped after the test."""
    _need_redis()
    started: list[RedisSentinel] = []

    def factory(
        *,
        master_password: str | None = None,
        sentinel_password: str | None = None,
        tls: bool = False,
    ) -> RedisSentinel:
        pair = RedisSentinel.launch(
            master_password=master_password,
            sentinel_password=sentinel_password,
            tls=redis_tls_files if tls else None,
        )
        started.append(pair)
        return pair

    yield factory
    for pair in started:
        pair.close()


@pytest.fixture
def redis_sentinel() -> Iterator[RedisSentinel]:
    """A master and one sentinel watching it as ``mymaster`` (quorum 1), stopped after."""
    _need_redis()
    pair = RedisSentinel.launch()
    yield pair
    pair.close()
