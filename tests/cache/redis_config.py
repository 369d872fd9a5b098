"""How a test redis-server is configured: its redis.conf lines and a free port to put it on."""

from __future__ import annotations

import random
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"

_HANDED_OUT: set[int] = set()  # ports this process already chose, never chosen twice


class RedisStartError(RuntimeError):
    """A redis-server did not come up; the message carries the tail of its log."""


class PortInUseError(RedisStartError):
    """The chosen port was taken between choosing it and binding it."""


def redis_server_binary() -> str | None:
    """Path of the redis-server executable, or None when it is not installed."""
    return shutil.which("redis-server")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Redis binds with SO_REUSEADDR, so a port in TIME_WAIT is free to it, too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port on 127.0.0.1, chosen below the kernel's ephemeral range.

    Outside that range no client socket can take the port as its source port while a
    killed server is down, so a restart on the same port cannot lose it to a client.
    """
    low, high = 15000, _ephemeral_floor() - 1
    for _ in range(200):
        port = random.randint(low, high) if high - low > 1000 else _kernel_port()
        if port not in _HANDED_OUT and _port_is_free(port):
            _HANDED_OUT.add(port)
            return port
    raise RedisStartError("no free TCP port found for redis-server")


def _kernel_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def quote_conf(value: str) -> str:
    """Quote one redis.conf argument so spaces, quotes and control bytes survive."""
    out = []
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch.isprintable() and ch.isascii():
            out.append(ch)
        else:
            out.extend(f"\\x{byte:02x}" for byte in ch.encode())
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it."""

    ca_path: Path
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class ServerConfig:
    """What one redis-server is started with; everything not named is Redis's default.

    ``password`` is the default user's password (``requirepass``). ``acl_user`` with
    ``acl_password`` adds a user allowed everything; without ``password`` the default
    user is then switched off, so only that user can get in. ``persistence`` keeps an
    RDB snapshot across a graceful stop (a kill still loses what was not saved).
    """

    password: str | None = None
    acl_user: str | None = None
    acl_password: str | None = None
    maxmemory: int | str | None = None
    maxmemory_policy: str | None = None
    persistence: bool = False
    tls: TlsFiles | None = None
    cluster_port: int | None = None  # set: a cluster node with this bus port
    sentinel_of: tuple[str, int, str] | None = None  # set: a sentinel for (host, port, name)
    sentinel_auth_pass: str | None = None  # a sentinel's password for its master

    def lines(self, port: int, workdir: Path) -> list[str]:
        """The redis.conf lines for a server on ``port`` living in ``workdir``."""
        lines = [f"bind {HOST}", f"dir {quote_conf(str(workdir))}", "daemonize no", 'logfile ""']
        if self.tls is None:
            lines.append(f"port {port}")
        else:
            lines += [
                "port 0",
                f"tls-port {port}",
                f"tls-cert-file {quote_conf(str(self.tls.cert_path))}",
                f"tls-key-file {quote_conf(str(self.tls.key_path))}",
                f"tls-ca-cert-file {quote_conf(str(self.tls.ca_path))}",
                "tls-auth-clients no",
            ]
        if self.sentinel_of is not None:
            return lines + self._sentinel_lines()
        lines += [f"unixsocket {quote_conf(str(workdir / 'redis.sock'))}", "unixsocketperm 700"]
        lines += ['save "3600 1"' if self.persistence else 'save ""', "appendonly no"]
        if self.password is not None:
            lines.append(f"requirepass {quote_conf(self.password)}")
        if self.acl_user is not None:
            secret = quote_conf(">" + (self.acl_password or ""))
            lines.append(f"user {quote_conf(self.acl_user)} on {secret} ~* &* +@all")
            if self.password is None:
                lines.append("user default off")
        if self.maxmemory is not None:
            lines.append(f"maxmemory {self.maxmemory}")
        if self.maxmemory_policy is not None:
            lines.append(f"maxmemory-policy {self.maxmemory_policy}")
        if self.cluster_port is not None:
            lines += [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                f"cluster-port {self.cluster_port}",
                "cluster-node-timeout 2000",
            ]
        return lines

    def _sentinel_lines(self) -> list[str]:
        assert self.sentinel_of is not None
        host, port, name = self.sentinel_of
        lines = [
            f"sentinel monitor {name} {host} {port} 1",
            f"sentinel down-after-milliseconds {name} 1000",
            f"sentinel failover-timeout {name} 2000",
        ]
        if self.password is not None:  # the sentinel's own password, asked of its clients
            lines.append(f"requirepass {quote_conf(self.password)}")
        if self.sentinel_auth_pass is not None:
            lines.append(f"sentinel auth-pass {name} {quote_conf(self.sentinel_auth_pass)}")
        if self.tls is not None:  # a sentinel reaches a TLS master through tls-replication
            lines.append("tls-replication yes")
        return lines
