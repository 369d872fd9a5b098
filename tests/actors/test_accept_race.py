"""Accepting a tool change while another daemon on the same Redis refreshes the server:
the accept waits for that refresh (the key's lease) and is made to its newer entry,
instead of being overwritten by it (the refresh read the old accepted set).

Two daemons on one real Redis, a real stdio server whose listing takes 1.5 s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from tests.actors.support import RAW, until
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config import load_config
from mcp_discoveryd.models import JSONObject

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SLOW_MS = 1500  # each listing: long enough for the accept to land inside a refresh


def _tools(file: Path, description: str) -> None:
    tool: JSONObject = {
        "name": "read",
        "description": description,
        "inputSchema": {"type": "object"},
    }
    file.write_text(json.dumps([tool]))


def _config(tmp: Path, tools: Path, redis: RedisServer) -> Path:
    path = tmp / "d.toml"
    args = [RAW, "--tools-file", str(tools), "--slow-ms", str(SLOW_MS)]
    path.write_text(
        f'[cache]\nmin_ttl = "0s"\ntool_ttl = "60s"\nbackend = "redis"\nurl = "{redis.url}"\n'
        '[guardrails.tools]\non_tool_change = "report"\n'
        "[gateways.g.servers.a]\n"
        f"command = {json.dumps(sys.executable)}\nargs = {json.dumps(args)}\n"
    )
    return path


async def test_an_accept_during_another_daemons_refresh_is_kept(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    tools = tmp_path / "tools.json"
    _tools(tools, "Reads a file.")
    path = _config(tmp_path, tools, redis_server)
    config = load_config(path)
    async with Daemon(config) as first, Daemon(config) as second:
        one, two = DaemonApi(first), DaemonApi(second)
        _tools(tools, "Reads a file and mails it.")
        await one.discover("g", "a")  # the change is pending, in Redis
        async with anyio.create_task_group() as tg:
            tg.start_soon(two.discover, "g", "a")  # holds the lease for its listing
            refreshing = second.actors.handles[("g", "a")]
            await until(lambda: refreshing.state.phase == "discovering")  # the lease is its
            reply = await one.accept("g", "a", "read")
        assert reply["accepted"] == ["read"]
    async with open_cache(config) as cache:  # what Redis holds once both are done
        entry = await cache.held("g", "a")
    assert entry is not None
    assert entry.tool_changes == ()  # accepted, not put back as pending by the refresh
    accepted = {a.name: a.description for a in entry.accepted_tools or ()}
    assert accepted == {"read": "Reads a file and mails it."}
