"""Real redis-server processes for the tests: start, crash, restart on the same port, clean up.

Each server lives in a short temporary directory (``/tmp/rXXXXXXXX``) so that its Unix
socket path stays far below the ~100-byte limit. Its settings go into a ``redis.conf``
there (mode 0600), never onto the command line, so passwords do not show in ``ps``.

Lifecycle methods are synchronous and fast (a start is ~10-50 ms, a kill ~1 ms); async
tests that prefer not to block the loop use the ``a``-prefixed twins (``astart``...).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import anyio.to_thread
import redis
from tests.cache.redis_config import (
    HOST,
    PortInUseError,
    RedisStartError,
    ServerConfig,
    free_port,
    redis_server_binary,
)
from tests.conftest import SESSION_PIDS

# SESSION_PIDS (from tests.conftest): pids of session-scoped servers, alive across tests on
# purpose, so the leak check skips them.

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_OPEN: set[RedisServer] = set()  # servers not yet closed: killed and removed at exit


@dataclass(frozen=True, eq=False)
class RedisServer:
    """A real redis-server: a fixed address, and a process that can come and go.

    The address (port, socket, directory) never changes, so ``kill()`` then ``start()``
    is a crash and a restart where clients expect it. Data is empty after each start
    unless the config asked for persistence.
    """

    config: ServerConfig
    port: int
    workdir: Path
    session: bool = False  # started for the whole test session (see SESSION_PIDS)
    host: str = HOST
    _proc: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def launch(cls, config: ServerConfig | None = None, *, session: bool = False) -> RedisServer:
        """Start a server on a fresh port in a fresh short directory; retry if the port is lost."""
        config = config or ServerConfig()
        for _ in range(5):
            workdir = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))
            server = cls(config, port=free_port(), workdir=workdir, session=session)
            _OPEN.add(server)
            try:
                server.start()
            except RedisStartError as exc:
                server.close()
                if isinstance(exc, PortInUseError):
                    continue
                raise
            return server
        raise RedisStartError("redis-server lost its port to another process five times")

    @property
    def unix_socket(self) -> str:
        """Path of the server's Unix socket (sentinels have none)."""
        return str(self.workdir / "redis.sock")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (``rediss://`` for TLS), without credentials."""
        return self.url_for()

    @property
    def unix_url(self) -> str:
        """``unix:///tmp/rXXXX/redis.sock?db=0``, without credentials."""
        return self.url_for(unix=True)

    @property
    def ca_path(self) -> Path | None:
        """The CA file a client needs for ``rediss://``; None for a plain server."""
        return self.config.tls.ca_path if self.config.tls else None

    @property
    def admin_credentials(self) -> tuple[str | None, str | None]:
        """(username, password) that gets full access: the ACL user if any, else the default."""
        if self.config.sentinel_of is not None:
            return None, self.config.password
        if self.config.acl_user is not None and self.config.password is None:
            return self.config.acl_user, self.config.acl_password
        return None, self.config.password

    def url_for(
        self,
        db: int = 0,
        *,
        username: str | None = None,
        password: str | None = None,
        unix: bool = False,
    ) -> str:
        """A URL for this server, with percent-encoded credentials when given."""
        auth = ""
        if username is not None or password is not None:
            auth = quote(username or "", safe="")
            auth += (":" + quote(password, safe="")) if password is not None else ""
            auth += "@"
        if unix:
            return f"unix://{auth}{self.unix_socket}?db={db}"
        scheme = "rediss" if self.config.tls else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/{db}"

    @property
    def pid(self) -> int | None:
        """The running process's pid, or None while stopped."""
        return self._proc[0].pid if self.is_running else None

    @property
    def is_running(self) -> bool:
        """Whether the process is alive (it may still be loading)."""
        return bool(self._proc) and self._proc[0].poll() is None

    def start(self) -> None:
        """Start the process on this server's port and socket, and wait until it answers."""
        if self.is_running:
            raise RedisStartError(f"redis-server on port {self.port} is already running")
        self._reap()
        binary = redis_server_binary()
        if binary is None:
            raise RedisStartError("redis-server is not installed")
        if not self.config.persistence:
            (self.workdir / "dump.rdb").unlink(missing_ok=True)
        conf = self.workdir / "redis.conf"
        conf.touch(mode=0o600)
        conf.write_text("\n".join(self.config.lines(self.port, self.workdir)) + "\n")
        argv = [binary, str(conf)] + (["--sentinel"] if self.config.sentinel_of else [])
        with open(self.workdir / "redis.log", "wb") as log:  # this run's log only
            # Own session: a terminal's Ctrl-C reaches pytest, which then stops us in order.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._proc.append(proc)
        if self.session:
            SESSION_PIDS.add(proc.pid)
        self._wait_ready(proc)

    def stop(self) -> None:
        """Shut the server down with SIGTERM (SIGKILL if it lingers); no-op when stopped."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Crash the server with SIGKILL: no shutdown, no save, connections cut."""
        self._signal(signal.SIGKILL)

    def restart(self) -> None:
        """Stop gracefully, then start again on the same port and socket."""
        self.stop()
        self.start()

    async def astart(self) -> None:
        """``start()`` in a worker thread, for async tests."""
        await anyio.to_thread.run_sync(self.start)

    async def astop(self) -> None:
        """``stop()`` in a worker thread, for async tests."""
        await anyio.to_thread.run_sync(self.stop)

    async def akill(self) -> None:
        """``kill()`` in a worker thread, for async tests."""
        await anyio.to_thread.run_sync(self.kill)

    async def arestart(self) -> None:
        """``restart()`` in a worker thread, for async tests."""
        await anyio.to_thread.run_sync(self.restart)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A sync client with full access, for test setup and inspection; close it after use."""
        username, password = self.admin_credentials
        if self.config.tls is not None:
            kwargs.setdefault("ssl", True)
            kwargs.setdefault("ssl_ca_certs", str(self.config.tls.ca_path))
        return redis.Redis(
            host=self.host,
            port=self.port,
            username=username,
            password=password,
            socket_timeout=5,
            **kwargs,
        )

    def flushall(self) -> None:
        """Empty every database of this server."""
        with self.client() as conn:
            conn.flushall()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to its log."""
        try:
            text = (self.workdir / "redis.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Kill the server for good and remove its directory (its data is going anyway)."""
        self.kill()  # SIGTERM waits up to 100 ms for Redis's next cron tick; SIGKILL does not
        shutil.rmtree(self.workdir, ignore_errors=True)
        _OPEN.discard(self)

    def _signal(self, signum: signal.Signals) -> None:
        if not self.is_running:
            self._reap()
            return
        proc = self._proc[0]
        proc.send_signal(signum)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._reap()

    def _reap(self) -> None:
        for proc in self._proc:
            proc.wait()  # already exited (or just killed): collect it, leave no zombie
            SESSION_PIDS.discard(proc.pid)
        self._proc.clear()

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._reap()
                tail = self.log_tail()
                error = PortInUseError if "already in use" in tail else RedisStartError
                raise error(f"redis-server on port {self.port} exited at start:\n{tail}")
            if self._answers_ping():
                return
            time.sleep(0.005)
        self.kill()
        raise RedisStartError(f"redis-server on port {self.port} not ready:\n{self.log_tail()}")

    def _answers_ping(self) -> bool:
        # A bare RESP PING; over the Unix socket when there is one, since TLS ports need a
        # handshake (a TLS sentinel has none: it is pinged over TLS). An auth error is an
        # answer too: the server is up, just guarded.
        unix = self.config.sentinel_of is None
        try:
            with contextlib.ExitStack() as stack:
                raw = stack.enter_context(socket.socket(socket.AF_UNIX if unix else socket.AF_INET))
                raw.settimeout(0.5)
                raw.connect(self.unix_socket if unix else (self.host, self.port))
                sock = raw
                if not unix and self.config.tls is not None:
                    context = ssl.create_default_context(cafile=str(self.config.tls.ca_path))
                    sock = stack.enter_context(context.wrap_socket(raw, server_hostname=self.host))
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH", b"-NOPERM"))


class RedisFactory(Protocol):
    """The ``redis_factory`` fixture: start a standalone server with these settings."""

    def __call__(
        self,
        *,
        password: str | None = None,
        acl_user: str | None = None,
        acl_password: str | None = None,
        maxmemory: int | str | None = None,
        maxmemory_policy: str | None = None,
        persistence: bool = False,
    ) -> RedisServer: ...


class RedisTlsFactory(Protocol):
    """The ``redis_tls_factory`` fixture: start a TLS-only server (``rediss://``)."""

    def __call__(
        self,
        *,
        password: str | None = None,
        acl_user: str | None = None,
        acl_password: str | None = None,
    ) -> RedisServer: ...


def cleanup_all() -> None:
    """Kill every server this process started and has not closed, and remove its directory."""
    for server in list(_OPEN):
        server.close()


atexit.register(cleanup_all)  # a crashed or interrupted run must not leave servers behind
