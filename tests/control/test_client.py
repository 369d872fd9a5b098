"""The client gateways import: every call, sync and async, and its typed errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.control.support import NOBODY, TOOLS, control_config, in_thread, served

from mcp_discoveryd.control.client import ControlClient, SyncControlClient
from mcp_discoveryd.errors import DaemonUnavailable, NotFoundError, RefusedError

pytestmark = pytest.mark.slow


def test_sync_client_covers_every_call(sock_dir: Path) -> None:
    with in_thread(control_config(sock_dir)) as s, SyncControlClient(s.socket) as client:
        assert client.health()["ready"] is True
        assert len(client.status("g")["servers"]) == 2
        assert [r["server"] for r in client.servers()["servers"]] == ["a", "b"]
        first = client.catalog("a", "g")
        assert first.changed and first.etag is not None
        assert not client.catalog("a", "g", etag=first.etag).changed
        assert client.discover("a")["status"] == "success"
        assert client.discover(gateway="g", refresh=False)["status"] == "success"
        assert client.accept("a") == {"accepted": [], "pending": [], "rediscovered": False}
        assert client.clear(gateway="g", server="b")["status"] == "success"
        assert client.reload()["status"] == "success"
        with pytest.raises(NotFoundError, match="unknown server 'zz'"):
            client.catalog("zz")


async def test_async_client_reads_catalogs_with_etags(sock_dir: Path) -> None:
    config = control_config(sock_dir, {"a": TOOLS})
    async with served(config) as s, ControlClient(s.socket) as client:
        first = await client.catalog("a")
        again = await client.catalog("a", etag=first.etag)
        assert first.changed and not again.changed and again.etag == first.etag


@pytest.mark.parametrize("kind", ["missing", "stale"])
def test_no_daemon_is_a_typed_error_that_leaks_nothing(sock_dir: Path, kind: str) -> None:
    import socket

    path = str(sock_dir / "c.sock")
    if kind == "stale":
        dead = socket.socket(socket.AF_UNIX)
        dead.bind(path)
        dead.close()
    with SyncControlClient(path) as client, pytest.raises(DaemonUnavailable, match=path):
        client.health()  # a socket left open would fail this test (ResourceWarning is an error)


async def test_async_no_daemon_is_a_typed_error(sock_dir: Path) -> None:
    async with ControlClient(str(sock_dir / "c.sock")) as client:
        with pytest.raises(DaemonUnavailable):
            await client.status()


def refused_as_nobody(path: str) -> str:
    """In a forked child dropped to nobody (no exec: the interpreter is root's to run), read
    a catalog, then ask for a reload; what it saw, through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        outcome = "no error"
        try:
            os.setgroups([NOBODY])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with SyncControlClient(path) as client:
                assert client.catalog("a").changed
                client.reload()
        except RefusedError as exc:
            outcome = f"{type(exc).__name__} {exc.status} {exc.message}"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, whatever it is
            outcome = repr(exc)
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        seen = pipe.read().decode()
    os.waitpid(pid, 0)
    return seen


def test_a_refused_change_is_a_refused_error_for_the_caller(sock_dir: Path) -> None:
    with in_thread(control_config(sock_dir, {"a": TOOLS}, group="nogroup")) as s:
        seen = refused_as_nobody(s.socket)
    assert seen.startswith(f"RefusedError 403 uid {NOBODY} may read but not change"), seen
