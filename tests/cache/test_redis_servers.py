"""The Redis fixtures themselves: each server really runs, restarts and guards as promised."""

from __future__ import annotations

import socket

import pytest
import redis
import redis.asyncio
from redis.cluster import RedisCluster as ClusterClient
from redis.sentinel import Sentinel
from tests.cache.redis_config import RedisStartError, ServerConfig
from tests.cache.redis_servers import RedisFactory, RedisServer, RedisTlsFactory
from tests.cache.redis_topologies import CLUSTER_SLOTS, RedisCluster, RedisSentinel, SharedCluster
from tests.conftest import SESSION_PIDS

pytestmark = pytest.mark.redis


def _ping(url: str, **kwargs: object) -> bool:
    with redis.Redis.from_url(url, socket_timeout=5, **kwargs) as conn:
        return bool(conn.ping())


def test_server_answers_over_tcp_and_unix_socket(redis_server: RedisServer) -> None:
    """The standalone server answers PING on its redis:// and unix:// URLs."""
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.unix_url == f"unix://{redis_server.unix_socket}?db=0"
    assert len(redis_server.unix_socket.encode()) < 100
    assert _ping(redis_server.url)
    assert _ping(redis_server.unix_url)


def test_kill_then_start_serves_on_the_same_port_with_empty_data(
    redis_server: RedisServer,
) -> None:
    """A crash (SIGKILL) then start() brings the server back at the same address, empty."""
    port, socket_path = redis_server.port, redis_server.unix_socket
    with redis_server.client() as conn:
        conn.set("survivor", "no")
    redis_server.kill()
    assert not redis_server.is_running
    with pytest.raises(redis.ConnectionError):
        _ping(redis_server.url)
    redis_server.start()
    assert (redis_server.port, redis_server.unix_socket) == (port, socket_path)
    with redis.Redis.from_url(redis_server.unix_url) as conn:
        assert conn.get("survivor") is None


def test_start_on_a_taken_port_fails_with_the_server_log(redis_server: RedisServer) -> None:
    """start() on a port someone else holds raises at once, quoting the server's log."""
    redis_server.kill()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((redis_server.host, redis_server.port))
        squatter.listen()
        with pytest.raises(RedisStartError, match="already in use"):
            redis_server.start()
    assert not redis_server.is_running
    redis_server.start()
    assert _ping(redis_server.url)


async def test_async_variants_crash_and_restart_without_blocking(
    redis_server: RedisServer,
) -> None:
    """akill()/astart() work from an async test, and one client reconnects across them."""
    client = redis.asyncio.Redis.from_url(redis_server.url, socket_timeout=5)
    try:
        await client.set("k", "v")
        await redis_server.akill()
        with pytest.raises(redis.ConnectionError):
            await client.get("k")
        await redis_server.astart()
        assert await client.get("k") is None
    finally:
        await client.aclose()


def test_persistence_keeps_data_across_a_graceful_restart(redis_factory: RedisFactory) -> None:
    """With persistence, stop() saves and start() loads the data back."""
    server = redis_factory(persistence=True)
    with server.client() as conn:
        conn.set("kept", "yes")
    server.restart()
    with server.client() as conn:
        assert conn.get("kept") == b"yes"


def test_acl_user_gets_in_and_wrong_or_missing_credentials_are_refused(
    redis_factory: RedisFactory,
) -> None:
    """An ACL user authenticates; a wrong password or no credentials are refused."""
    server = redis_factory(acl_user="gateway", acl_password="s3cret")
    assert _ping(server.url_for(username="gateway", password="s3cret"))
    assert _ping(server.url_for(username="gateway", password="s3cret", unix=True))
    with pytest.raises(redis.AuthenticationError):
        _ping(server.url_for(username="gateway", password="wrong"))
    with pytest.raises(redis.AuthenticationError):
        _ping(server.url)


def test_password_with_awkward_characters_survives_config_and_url(
    redis_factory: RedisFactory,
) -> None:
    """A requirepass with quotes, spaces, @ and : is set verbatim and works URL-encoded."""
    password = 'p@ss w:rd"\\/'
    server = redis_factory(password=password)
    assert _ping(server.url_for(password=password))
    with pytest.raises(redis.AuthenticationError):
        _ping(server.url_for(password="p@ss"))


def test_standalone_servers_are_not_session_servers(redis_server: RedisServer) -> None:
    """A per-test server's pid is not in SESSION_PIDS, so leak checks still see it."""
    assert redis_server.pid is not None
    assert redis_server.pid not in SESSION_PIDS
    assert not redis_server.session and redis_server.config == ServerConfig()


def test_maxmemory_evicts_keys(redis_factory: RedisFactory) -> None:
    """Under maxmemory with allkeys-lru, writing past the limit evicts older keys."""
    server = redis_factory(maxmemory="2mb", maxmemory_policy="allkeys-lru")
    with server.client(decode_responses=True) as conn:
        assert conn.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        for batch in range(8):
            with conn.pipeline(transaction=False) as pipe:
                for index in range(50):
                    pipe.set(f"k:{batch}:{index}", "x" * 10_000)
                pipe.execute()
        assert conn.dbsize() < 400
        assert int(conn.info("stats")["evicted_keys"]) > 0


def test_cluster_has_three_masters_covering_every_slot(redis_cluster: RedisCluster) -> None:
    """The cluster's three masters together serve all 16384 slots and accept keys."""
    with redis_cluster.servers[0].client() as conn:
        slots = conn.execute_command("CLUSTER", "SLOTS")
    assert sum(end - start + 1 for start, end, *_ in slots) == CLUSTER_SLOTS
    owners = {int(master[1]) for _, _, master, *_ in slots}
    assert owners == {port for _, port in redis_cluster.nodes}
    assert {server.pid for server in redis_cluster.servers} <= SESSION_PIDS
    with ClusterClient.from_url(redis_cluster.url) as client:
        assert len(client.get_primaries()) == 3
        for index in range(30):
            client.set(f"key{index}", index)
        assert client.get("key7") == b"7"


def test_cluster_flushall_empties_every_master(redis_cluster: RedisCluster) -> None:
    """flushall() leaves no key on any master."""
    with ClusterClient.from_url(redis_cluster.url) as client:
        for index in range(30):
            client.set(f"key{index}", index)
    redis_cluster.flushall()
    for server in redis_cluster.servers:
        with server.client() as conn:
            assert conn.dbsize() == 0


@pytest.mark.slow
def test_shared_cluster_is_rebuilt_after_a_node_is_killed(
    redis_cluster: RedisCluster, _redis_cluster_holder: SharedCluster
) -> None:
    """A shared cluster with a dead node is replaced by a healthy one, the old nodes gone."""
    redis_cluster.servers[1].kill()
    rebuilt = _redis_cluster_holder.get()
    assert rebuilt is not redis_cluster
    assert rebuilt.is_running
    assert not any(server.is_running for server in redis_cluster.servers)
    with ClusterClient.from_url(rebuilt.url) as client:
        client.set("after", "rebuild")
        assert client.get("after") == b"rebuild"


def test_sentinel_reports_the_master(redis_sentinel: RedisSentinel) -> None:
    """The sentinel names the master's address and a client reaches it through the sentinel."""
    # redis-py's Sentinel is unannotated, hence the ignores.
    sentinel = Sentinel(redis_sentinel.sentinels, socket_timeout=5)  # type: ignore[no-untyped-call]
    master = redis_sentinel.master
    name = redis_sentinel.service_name
    assert sentinel.discover_master(name) == (master.host, master.port)  # type: ignore[no-untyped-call]
    with sentinel.master_for(name) as client:  # type: ignore[no-untyped-call]
        client.set("via", "sentinel")
    with master.client() as conn:
        assert conn.get("via") == b"sentinel"
    for conn in sentinel.sentinels:
        conn.close()


def test_tls_server_is_reached_with_its_ca_only(redis_tls_factory: RedisTlsFactory) -> None:
    """A TLS server answers on rediss:// when the client trusts the test CA, and not otherwise."""
    server = redis_tls_factory(password="pw")
    assert server.url.startswith("rediss://127.0.0.1:")
    assert server.ca_path is not None
    url = server.url_for(password="pw")
    assert _ping(url, ssl_ca_certs=str(server.ca_path))
    with pytest.raises(redis.ConnectionError):
        _ping(url)
