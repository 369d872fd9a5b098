"""A real daemon serving its control socket, for the control tests.

``served`` runs ``Daemon`` with the control server as ``run`` does (``open_listener``,
then the server actor started before the preload), over real stdio servers
(tests/servers/raw_server.py). ``in_thread`` runs it on an event loop of its own, for
synchronous tests (hypothesis, subprocess clients) that talk to it over the socket.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from tests.actors.support import write_config

from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonConfig
from mcp_discoveryd.control.activation import open_listener
from mcp_discoveryd.control.client import ControlClient
from mcp_discoveryd.control.server import serve_control

TOOLS = ["--tools", "3"]


@dataclass(frozen=True, slots=True)
class Served:
    """A running daemon, its socket and a client connected to it."""

    daemon: Daemon
    client: ControlClient
    socket: str
    config_path: Path


@contextmanager
def short_dir() -> Iterator[Path]:
    """A directory with a short path (a socket path must fit in 108 bytes), others may enter."""
    path = Path(tempfile.mkdtemp(prefix="mcpd-", dir="/tmp"))
    path.chmod(0o711)  # another uid (the privilege-drop tests) reaches the socket inside
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def control_config(
    directory: Path,
    servers: Mapping[str, Sequence[str]] | None = None,
    *,
    daemon: str = "",
    **control: Any,
) -> DaemonConfig:
    """A config of gateway "g" (raw servers "a" and "b" by default) with its socket in ``directory``."""
    path = write_config(
        directory / "d.toml",
        servers if servers is not None else {"a": TOOLS, "b": TOOLS},
        daemon=daemon,
        cache='tool_ttl = "1h"',
    )
    config = load_config(path)
    settings = dataclasses.replace(config.control, socket=str(directory / "c.sock"), **control)
    return dataclasses.replace(config, control=settings)


@asynccontextmanager
async def served(config: DaemonConfig, **control_options: Any) -> AsyncIterator[Served]:
    """The daemon of ``config`` serving its control socket, ready; a client on it.

    ``control_options`` go to ``serve_control`` (``mcp``, ``mcp_lifespan``).
    """
    with open_listener(config.control, env={}) as listener:
        control = partial(serve_control, listener=listener, **control_options)
        daemon = Daemon(config, services=[control])
        async with daemon, ControlClient(listener.path, timeout=20) as client:
            yield Served(daemon, client, listener.path, Path(config.path))


@contextmanager
def in_thread(config: DaemonConfig) -> Iterator[Served]:
    """``served`` on an event loop in a thread of its own, for synchronous tests."""
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(served(config)) as s:
        yield s


def raw_exchange(
    path: str, data: bytes, *, timeout: float = 5.0, half_close: bool = False
) -> bytes:
    """Send ``data`` on a fresh connection and read until the daemon closes it (or timeout)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def http_get(path: str) -> bytes:
    """A whole GET request for ``path`` that closes the connection after its answer."""
    return f"GET {path} HTTP/1.1\r\nhost: d\r\nconnection: close\r\n\r\n".encode()


NOBODY = 65534
"""uid and gid of nobody/nogroup: the unprivileged peer of the privilege-drop tests."""


def as_nobody(groups: Sequence[int] = ()) -> dict[str, Any]:
    """``subprocess`` arguments that run the child as nobody with these extra groups."""
    assert os.geteuid() == 0, "the privilege-drop tests run as root"
    return {"user": NOBODY, "group": NOBODY, "extra_groups": list(groups)}
