"""``mcp-discoveryd mcp``: the stdio bridge spawned as a real subprocess by an ``mcp.Client``,
forwarding to a real daemon's /mcp over a Unix socket; and its exit when no daemon answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, MCPError, StdioServerParameters
from starlette.types import ASGIApp
from tests.actors.support import write_config
from tests.control.mcp_support import (
    ADMIN,
    READER,
    serve_uds,
    served_daemon,
    short_dir,
    with_peer,
)
from tests.servers.http_harness import status_app

from mcp_discoveryd.control.mcp_bridge import DEFAULT_SOCKET
from mcp_discoveryd.models import CacheType

pytestmark = pytest.mark.slow

DAEMON_SRC = str(Path(__file__).resolve().parents[2] / "daemon")
EXIT_UNAVAILABLE = 69


def bridge_params(*args: str) -> StdioServerParameters:
    """``python -m mcp_discoveryd mcp ARGS`` importing this worktree's package."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_discoveryd", "mcp", *args],
        env={"PYTHONPATH": DAEMON_SRC},
    )


def run_bridge(*args: str) -> subprocess.CompletedProcess[str]:
    """The bridge run to its end with stdin closed: its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_discoveryd", "mcp", *args],
        env={**os.environ, "PYTHONPATH": DAEMON_SRC},
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_mcp_client_lists_and_calls_the_daemons_tools_through_the_bridge(
    tmp_path: Path,
) -> None:
    async with served_daemon(tmp_path, {"admin": ADMIN}) as served:
        params = bridge_params("--socket", served.sockets["admin"])
        async with Client(params, cache=None, mode="legacy") as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert sorted(listed) == [
                "clear_cache",
                "discover_tools",
                "get_cache_status",
                "get_catalog",
                "list_servers",
            ]
            clear = listed["clear_cache"]
            assert clear.annotations is not None and clear.annotations.destructive_hint is True
            assert listed["get_catalog"].input_schema["additionalProperties"] is False

            catalog = await client.call_tool("get_catalog", {"server_name": "b"})
            assert not catalog.is_error and catalog.structured_content is not None
            assert len(catalog.structured_content["tools"]) == 5

            bad = await client.call_tool("get_catalog", {"server_name": "b", "x": 1})
            assert bad.is_error
            assert "x: Extra inputs are not permitted" in bad.content[0].text  # type: ignore[union-attr]

            with pytest.raises(MCPError, match="unknown tool 'nope'"):  # the daemon's error
                await client.call_tool("nope", {})

            cleared = await client.call_tool("clear_cache", {"cache_type": "gateway_config"})
            assert not cleared.is_error and cleared.structured_content is not None
            assert cleared.structured_content["status"] in ("success", "info")
        assert served.daemon.cache.lookup(CacheType.GATEWAY_CONFIG, "g", None) is None


async def test_the_daemons_refusal_reaches_the_bridges_client(tmp_path: Path) -> None:
    async with served_daemon(tmp_path, {"reader": READER}) as served:
        entry = served.daemon.cache.lookup(CacheType.TOOLS, "g", "a")
        params = bridge_params("--socket", served.sockets["reader"])
        async with Client(params, cache=None) as client:  # the 2026-07-28 era on stdio
            refused = await client.call_tool("clear_cache", {"server_name": "a"})
            assert refused.is_error
            assert "clear_cache refused: uid 4242" in refused.content[0].text  # type: ignore[union-attr]
            status = await client.call_tool("get_cache_status", {})
            assert not status.is_error
        assert served.daemon.cache.lookup(CacheType.TOOLS, "g", "a") is entry


async def serve_until(
    app: ASGIApp, path: str, ready: anyio.Event, stop: anyio.Event, stopped: anyio.Event
) -> None:
    """Serve ``app`` on ``path`` from ``ready`` until ``stop`` (a daemon that goes away);
    ``stopped`` once the server has closed."""
    async with serve_uds(app, path):
        ready.set()
        await stop.wait()
    stopped.set()


async def test_a_call_while_the_daemon_is_away_is_a_tool_error_and_the_bridge_recovers(
    tmp_path: Path,
) -> None:
    async with (
        served_daemon(tmp_path, {}) as served,
        short_dir() as directory,
        anyio.create_task_group() as tg,
    ):
        path, app = str(directory / "c.sock"), with_peer(served.endpoint.app, ADMIN)
        ready, stop, stopped = anyio.Event(), anyio.Event(), anyio.Event()
        tg.start_soon(serve_until, app, path, ready, stop, stopped)
        await ready.wait()
        async with Client(bridge_params("--socket", path), cache=None, mode="legacy") as client:
            assert not (await client.call_tool("list_servers", {})).is_error
            stop.set()  # the daemon stops (its connections close)
            await stopped.wait()
            away = await client.call_tool("list_servers", {})
            assert away.is_error
            text = away.content[0].text  # type: ignore[union-attr]
            assert text.startswith(f"no mcp-discoveryd answers on {path}: ")
            async with serve_uds(app, path):  # it is back
                back = await client.call_tool("list_servers", {})
                assert not back.is_error  # stateless: no session to rebuild


def test_no_daemon_on_the_socket_exits_69_with_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.sock"
    done = run_bridge("--socket", str(missing))
    assert done.returncode == EXIT_UNAVAILABLE
    assert f"no mcp-discoveryd answers on {missing}: " in done.stderr
    assert "No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


async def test_a_stale_socket_or_a_server_that_is_not_the_daemon_exits_69() -> None:
    async with short_dir() as directory:
        stale = directory / "stale.sock"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(stale))  # bound, never listening: what a crashed daemon leaves
        sock.close()
        done = run_bridge("--socket", str(stale))
        assert done.returncode == EXIT_UNAVAILABLE
        assert "Connection refused" in done.stderr
        other = str(directory / "other.sock")
        async with serve_uds(status_app(404), other):
            done = run_bridge("--socket", other)
        assert done.returncode == EXIT_UNAVAILABLE
        assert f"no mcp-discoveryd answers on {other}: " in done.stderr


def test_with_a_config_and_no_socket_flag_the_default_socket_is_tried(tmp_path: Path) -> None:
    config = write_config(tmp_path / "d.toml", {"a": []})
    done = run_bridge("--config", str(config))
    assert done.returncode == EXIT_UNAVAILABLE
    assert f"no mcp-discoveryd answers on {DEFAULT_SOCKET}" in done.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateways.g.servers.a]\nurl = 7\n")
    assert run_bridge("--config", str(bad)).returncode == 78
