"""list_changed watching with real servers: an SDK server over streamable HTTP (uvicorn, in
process) in both protocol eras, a restart of that server, debounce and the watch bound.

Each test reads the daemon's catalog (what a client of the daemon gets), and counts
refreshes as the upstream's own tools/list requests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest
from tests.actors.support import until
from tests.servers.changing import Changing
from tests.servers.http_harness import serve_app

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

pytestmark = pytest.mark.slow

NOTICE_LIMIT = 1.0  # seconds from a notification to the new catalog (the bound)


def remote_config(
    path: Path, urls: dict[str, str], *, daemon: str = "", discovery: str = "", server: str = ""
) -> Path:
    """A TOML config of gateway "g" with one streamable HTTP server per url; long TTLs."""
    lines = [
        f"[discovery]\n{discovery}\n",
        '[cache]\nmin_ttl = "0s"\ntool_ttl = "1h"\n',
        f'[daemon]\nwatch_ping = "0.2s"\nwatch_retry_max = "1s"\n{daemon}\n',
        "[gateways.g]\n",
    ]
    for name, url in urls.items():
        lines.append(f"[gateways.g.servers.{name}]\nurl = {json.dumps(url)}\n{server}\n")
    path.write_text("\n".join(lines))
    return path


def tool_names(api: DaemonApi, name: str = "s") -> set[str]:
    entry = api.catalog("g", name)
    return set() if entry is None else {str(t["name"]) for t in entry.catalog.tools}


async def added_tool_reaches_catalog(api: DaemonApi, changing: Changing, tool: str) -> float:
    """Add ``tool`` upstream (which notifies); seconds until the daemon's catalog has it."""
    started = time.monotonic()
    await changing.add_tool(tool)
    await until(lambda: tool in tool_names(api), limit=10.0)
    return time.monotonic() - started


async def test_classic_session_tools_list_changed_refreshes_the_catalog(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"})
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            assert tool_names(api) == {"first"}
            await until(lambda: bool(changing.sessions))  # the watched session pinged
            assert daemon.deps.watch is not None and daemon.deps.watch.stats.open == 1
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT
            assert tool_names(api) == {"first", "second"}
            assert daemon.actors.handles[("g", "s")].state.last_status == "success"


async def test_modern_session_subscriptions_listen_refreshes_the_catalog(tmp_path: Path) -> None:
    changing = Changing()
    async with serve_app(changing.app()) as base:
        config = remote_config(tmp_path / "d.toml", {"s": f"{base}/mcp"}, discovery='mode = "auto"')
        async with Daemon(load_config(config)) as daemon:
            api = DaemonApi(daemon)
            watch = daemon.deps.watch
            assert watch is not None
            await until(lambda: watch.stats.open == 1)
            await anyio.sleep(0.3)  # the listen acknowledgment
            took = await added_tool_reaches_catalog(api, changing, "second")
            assert took < NOTICE_LIMIT
            entry = api.catalog("g", "s")
            assert entry is not None and entry.protocol_version == "2026-07-28"
            assert not changing.sessions  # no ping on a 2026-07-28 session: it listened
