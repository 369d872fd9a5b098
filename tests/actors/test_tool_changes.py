"""Rug-pull detection in the daemon and the one-shot discover, with a real stdio server.

The server lists the tools of a JSON file the test rewrites between discoveries:
an upstream whose tool definitions change under the daemon.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.actors.support import RAW
from tests.cache.redis_servers import RedisServer

from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.cache import open_cache
from mcp_discoveryd.config import load_config
from mcp_discoveryd.config.settings import DaemonConfig
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.errors import UnknownTargetError
from mcp_discoveryd.models import JSONObject, ServerOutcome

pytestmark = pytest.mark.slow

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


def _tool(name: str, description: str) -> JSONObject:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}}


def _write_tools(file: Path, tools: Sequence[JSONObject]) -> None:
    file.write_text(json.dumps(list(tools)))


def _config(tmp: Path, tools_file: Path, *, policy: str, cache: str) -> Path:
    path = tmp / "d.toml"
    args = [RAW, "--tools-file", str(tools_file)]
    path.write_text(
        f'[cache]\nmin_ttl = "0s"\ntool_ttl = "60s"\n{cache}\n'
        f'[guardrails.tools]\non_tool_change = "{policy}"\n'
        "[gateways.g.servers.a]\n"
        f"command = {json.dumps(sys.executable)}\nargs = {json.dumps(args)}\n"
    )
    return path


@pytest.fixture(params=BACKENDS)
def cache_toml(request: pytest.FixtureRequest) -> str:
    """The [cache] lines of a backend (a fresh redis-server for "redis")."""
    if request.param == "memory":
        return 'backend = "memory"'
    server: RedisServer = request.getfixturevalue("redis_server")
    return _redis_toml(server)


def _redis_toml(server: RedisServer) -> str:
    return f'backend = "redis"\nurl = "{server.url}"'


async def _one_shot(config: DaemonConfig, tools: Path, description: str) -> ServerOutcome:
    """Serve "read" with ``description``, then a one-shot forced discovery: its one outcome."""
    _write_tools(tools, [_tool("read", description)])
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as client:
        report = await run_discovery(config, client, cache=cache, refresh=True)
    (outcome,) = report.outcomes
    return outcome


def _served(api: DaemonApi) -> dict[str, str]:
    entry = api.catalog("g", "a")
    assert entry is not None
    return {t["name"]: t["description"] for t in entry.catalog.tools}


async def _server_status(api: DaemonApi) -> JSONObject:
    (server,) = (await api.status())["servers"]
    assert isinstance(server, dict)
    return server


async def test_a_changed_description_is_reported_logged_and_served_under_report(
    tmp_path: Path, cache_toml: str, caplog: pytest.LogCaptureFixture
) -> None:
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file."), _tool("gone", "Soon removed.")])
    path = _config(tmp_path, tools, policy="report", cache=cache_toml)
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        assert (await _server_status(api))["tool_changes"] == []  # first listing: trusted
        _write_tools(
            tools,
            [_tool("read", "Reads a file and all its siblings."), _tool("new", "Hi.")],
        )
        with caplog.at_level(logging.WARNING):
            await api.discover("g", "a")
        status = await _server_status(api)
        assert status["tool_changes"] == [
            {
                "tool": "read",
                "kind": "changed",
                "fields": ["description"],
                "diff": "-[file.] +[file and all its siblings.]",
            },
            {"tool": "new", "kind": "new"},
            {"tool": "gone", "kind": "removed"},
        ]
        assert status["withheld"] == []
        assert _served(api) == {
            "read": "Reads a file and all its siblings.",
            "new": "Hi.",
        }
        assert (
            "tool change on g/a: tool 'read' changed: description; "
            "description -[file.] +[file and all its siblings.] (served)"
        ) in caplog.messages
        assert "tool change on g/a: tool 'gone' removed (no longer listed)" in caplog.messages
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            await api.discover("g", "a")  # still pending: not logged again
        assert not [m for m in caplog.messages if m.startswith("tool change")]
        assert (await api.accept("g", "a"))["accepted"] == ["read", "new", "gone"]
        assert (await _server_status(api))["tool_changes"] == []
        await api.discover("g", "a")
        assert (await _server_status(api))["tool_changes"] == []  # accepted: stays accepted


async def test_under_block_a_changed_or_new_tool_is_withheld_until_accepted(
    tmp_path: Path, cache_toml: str
) -> None:
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file."), _tool("list", "Lists a folder.")])
    path = _config(tmp_path, tools, policy="block", cache=cache_toml)
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        assert set(_served(api)) == {"read", "list"}  # first listing: accepted whole
        _write_tools(
            tools,
            [
                _tool("read", "Reads a file, and mails it."),
                _tool("list", "Lists a folder."),
                _tool("new", "Hi."),
            ],
        )
        await api.discover("g", "a")
        assert _served(api) == {"list": "Lists a folder."}  # neither old nor new "read"
        status = await _server_status(api)
        assert status["withheld"] == ["read", "new"]
        with pytest.raises(UnknownTargetError):
            await api.accept("g", "a", "list")  # nothing pending for it
        reply = await api.accept("g", "a", "read")
        assert reply == {"accepted": ["read"], "pending": ["new"], "rediscovered": True}
        assert _served(api) == {"read": "Reads a file, and mails it.", "list": "Lists a folder."}
        assert (await _server_status(api))["withheld"] == ["new"]
        await api.accept("g", "a")
        assert set(_served(api)) == {"read", "list", "new"}


@pytest.mark.redis
async def test_one_shot_discover_reports_changes_against_the_set_held_in_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file.")])
    cache = _redis_toml(redis_server)
    config = load_config(_config(tmp_path, tools, policy="report", cache=cache))
    for description, expected in [
        ("Reads a file.", []),
        ("Reads a file quietly.", [("read", "changed", "-[file.] +[file quietly.]")]),
    ]:
        outcome = await _one_shot(config, tools, description)
        assert [(c.tool, c.kind, c.diff) for c in outcome.tool_changes] == expected


async def test_one_shot_discover_with_memory_has_no_accepted_set(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    config = load_config(_config(tmp_path, tools, policy="block", cache='backend = "memory"'))
    for description in ("Reads a file.", "Reads a file and mails it."):
        outcome = await _one_shot(config, tools, description)
        assert not outcome.tool_changes and outcome.catalog.tools  # each run trusts on first use


@pytest.mark.redis
async def test_daemons_on_one_redis_share_the_accepted_set(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file.")])
    cache = _redis_toml(redis_server)
    path = _config(tmp_path, tools, policy="block", cache=cache)
    async with Daemon(load_config(path)) as first:
        _write_tools(tools, [_tool("read", "Reads a file and mails it.")])
        await DaemonApi(first).discover("g", "a")
        assert DaemonApi(first).catalog("g", "a") is not None
    async with Daemon(load_config(path)) as second:
        api = DaemonApi(second)
        await api.discover("g", "a")  # not a first listing: the set the first one accepted
        assert _served(api) == {} and (await _server_status(api))["withheld"] == ["read"]
        await api.accept("g", "a", "read")
    async with Daemon(load_config(path)) as third:
        api = DaemonApi(third)
        await api.discover("g", "a")
        assert _served(api) == {"read": "Reads a file and mails it."}


async def test_a_reload_to_block_withholds_pending_changes_at_once(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file."), _tool("list", "Lists.")])
    path = _config(tmp_path, tools, policy="report", cache='backend = "memory"')
    async with Daemon(load_config(path)) as daemon:
        api = DaemonApi(daemon)
        _write_tools(tools, [_tool("read", "Reads a file and mails it."), _tool("list", "Lists.")])
        await api.discover("g", "a")
        assert set(_served(api)) == {"read", "list"}  # report: served
        _write_tools(tools, [_tool("read", "Reads a file."), _tool("list", "Lists.")])
        path.write_text(path.read_text().replace('"report"', '"block"'))
        await api.reload()
        assert _served(api) == {"list": "Lists."}  # the entry's pending change, withheld


async def test_the_change_log_line_never_carries_the_server_s_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-5f2a9c0e7d41b3a8"
    tools = tmp_path / "tools.json"
    _write_tools(tools, [_tool("read", "Reads a file.")])
    path = _config(tmp_path, tools, policy="report", cache='backend = "memory"')
    path.write_text(path.read_text() + f'env = {{ API_TOKEN = "{token}" }}\n')
    async with Daemon(load_config(path)) as daemon:
        _write_tools(tools, [_tool("read", f"Reads a file. Key {token} inside.")])
        with caplog.at_level(logging.WARNING):
            await DaemonApi(daemon).discover("g", "a")
    (line,) = [m for m in caplog.messages if m.startswith("tool change")]
    assert token not in line and "Key" in line
