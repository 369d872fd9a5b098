"""Multi-process Redis set-ups for the tests: a three-master Cluster and a Sentinel pair."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from tests.cache.redis_config import HOST, RedisStartError, ServerConfig, TlsFiles, free_port
from tests.cache.redis_servers import RedisServer

CLUSTER_SLOTS = 16384
READY_TIMEOUT = 10.0


def _poll(check: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    """Call ``check()`` until it returns True; raise RedisStartError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():
                return
        time.sleep(0.01)
    raise RedisStartError(f"timed out waiting for {what}")


@dataclass(frozen=True, eq=False)
class RedisCluster:
    """Three masters, no replicas, each owning a third of the slots."""

    servers: tuple[RedisServer, ...]

    @classmethod
    def launch(cls, *, session: bool = False) -> RedisCluster:
        """Start three cluster nodes, assign slots, join them, wait for ``cluster_state:ok``."""
        with contextlib.ExitStack() as undo:  # a failed launch leaves no node behind
            servers = []
            for _ in range(3):
                server = RedisServer.launch(ServerConfig(cluster_port=free_port()), session=session)
                undo.callback(server.close)
                servers.append(server)
            cluster = cls(tuple(servers))
            cluster._join()
            undo.pop_all()
        return cluster

    @property
    def nodes(self) -> list[tuple[str, int]]:
        """(host, port) of every node, as a cluster client's startup nodes."""
        return [(server.host, server.port) for server in self.servers]

    @property
    def url(self) -> str:
        """``redis://`` URL of the first node; a cluster client discovers the rest."""
        return self.servers[0].url

    @property
    def is_running(self) -> bool:
        """Whether every node's process is alive."""
        return all(server.is_running for server in self.servers)

    def flushall(self) -> None:
        """Empty every master."""
        for server in self.servers:
            server.flushall()

    def wait_ok(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until every node sees all three masters and all slots served."""
        for server in self.servers:
            check = functools.partial(_cluster_ok, server)
            _poll(check, f"cluster_state:ok on port {server.port}", timeout)

    def stop(self) -> None:
        """Stop every node (their directories stay, so nodes can start again)."""
        for server in self.servers:
            server.stop()

    def close(self) -> None:
        """Stop every node for good and remove their directories."""
        for server in self.servers:
            server.close()

    def _join(self) -> None:
        per_node = CLUSTER_SLOTS // len(self.servers)
        for index, server in enumerate(self.servers):
            low = index * per_node
            high = CLUSTER_SLOTS - 1 if index == len(self.servers) - 1 else low + per_node - 1
            with server.client() as conn:
                # Distinct epochs up front spare the nodes the collision-resolution dance.
                conn.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
                conn.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        # Every pair meets directly: learning a peer through gossip alone can take seconds.
        for index, server in enumerate(self.servers):
            with server.client() as conn:
                for peer in self.servers[index + 1 :]:
                    bus = peer.config.cluster_port
                    conn.execute_command("CLUSTER", "MEET", peer.host, peer.port, bus)
        self.wait_ok()


def _cluster_ok(server: RedisServer) -> bool:
    with server.client() as conn:
        info = conn.execute_command("CLUSTER", "INFO")
    fields = dict(line.split(":", 1) for line in _text(info).split() if ":" in line)
    return (
        fields.get("cluster_state") == "ok"
        and fields.get("cluster_known_nodes") == "3"
        and fields.get("cluster_slots_ok") == str(CLUSTER_SLOTS)
    )


class SharedCluster:
    """One cluster reused across tests, rebuilt when a test left it stopped or broken."""

    def __init__(self) -> None:
        self._cluster: RedisCluster | None = None

    def get(self) -> RedisCluster:
        """A running, healthy, empty cluster."""
        if self._cluster is not None and self._cluster.is_running:
            try:
                self._cluster.flushall()
                self._cluster.wait_ok(timeout=5.0)
                return self._cluster
            except (RedisStartError, redis.RedisError):
                pass  # a node rejoined badly: start over
        self.close()
        self._cluster = RedisCluster.launch(session=True)
        return self._cluster

    def close(self) -> None:
        """Stop the cluster's nodes and remove their directories."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


@dataclass(frozen=True, eq=False)
class RedisSentinel:
    """One master watched by one sentinel (quorum 1)."""

    master: RedisServer
    sentinel: RedisServer
    service_name: str = "mymaster"

    @classmethod
    def launch(
        cls,
        service_name: str = "mymaster",
        *,
        master_password: str | None = None,
        sentinel_password: str | None = None,
        tls: TlsFiles | None = None,
    ) -> RedisSentinel:
        """Start a master, then a sentinel monitoring it; wait until the sentinel knows it.

        Either may require a password of its own, and both may speak TLS only.
        """
        with contextlib.ExitStack() as undo:  # a failed launch leaves no process behind
            master = RedisServer.launch(ServerConfig(password=master_password, tls=tls))
            undo.callback(master.close)
            sentinel = RedisServer.launch(
                ServerConfig(
                    sentinel_of=(HOST, master.port, service_name),
                    password=sentinel_password,
                    sentinel_auth_pass=master_password,
                    tls=tls,
                )
            )
            undo.callback(sentinel.close)
            pair = cls(master, sentinel, service_name)
            _poll(pair._sentinel_sees_master, "the sentinel to reach its master")
            undo.pop_all()
        return pair

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """(host, port) of every sentinel."""
        return [(self.sentinel.host, self.sentinel.port)]

    def close(self) -> None:
        """Stop the sentinel and the master for good."""
        self.sentinel.close()
        self.master.close()

    def _sentinel_sees_master(self) -> bool:
        with self.sentinel.client() as conn:
            state = conn.execute_command("SENTINEL", "MASTER", self.service_name)
        if isinstance(state, list):  # RESP2 answers a flat list
            state = dict(zip(state[::2], state[1::2], strict=True))
        fields = {_text(k): _text(v) for k, v in state.items()}
        # Until the first INFO reply, info-refresh is the time since the epoch.
        return fields.get("flags") == "master" and int(fields.get("info-refresh", "0")) < 60_000


class RedisSentinelFactory(Protocol):
    """The ``redis_sentinel_factory`` fixture: start a master and a sentinel as asked."""

    def __call__(
        self,
        *,
        master_password: str | None = None,
        sentinel_password: str | None = None,
        tls: bool = False,
    ) -> RedisSentinel: ...


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
