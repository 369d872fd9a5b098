"""The daemon opens the configured guardrail provider and every discovery path goes through it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from tests.servers.http_harness import serve_app

from examples.guardrail_provider import make_app
from mcp_discoveryd.api import DaemonApi
from mcp_discoveryd.app import Daemon
from mcp_discoveryd.config import load_config

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"

pytestmark = pytest.mark.slow


async def test_the_daemon_checks_preloaded_and_requested_discoveries_with_the_provider(
    tmp_path: Path,
) -> None:
    """Preload and DaemonApi.discover both apply [guardrails.provider]; the cache keeps it."""
    app = make_app(block_description=["add a note"])
    async with serve_app(app) as base:
        path = tmp_path / "d.toml"
        path.write_text(
            f'[guardrails.provider]\nurl = "{base}/check"\nname = "ref"\n'
            f'[gateways.g.servers.notes]\ncommand = "{sys.executable}"\n'
            f'args = ["{DEMO}", "notes"]\n'
        )
        async with Daemon(load_config(path)) as daemon:
            api = DaemonApi(daemon)
            entry = api.catalog("g", "notes")
            assert entry is not None
            assert [b.name for b in entry.blocked_tools] == ["add_note"]
            assert [t["name"] for t in entry.catalog.tools] == ["list_notes", "read_note"]
            report = await api.discover("g", "notes", refresh=True)
            (outcome,) = report.outcomes
            assert [b.name for b in outcome.blocked_tools] == ["add_note"]
    assert app.state.tools == 3  # the refresh's unchanged tools came from the verdict cache


async def test_a_reload_keeps_the_running_provider_and_says_a_restart_applies_it(
    tmp_path: Path,
) -> None:
    """A changed [guardrails.provider] is reported as needing a restart; the old one stays."""
    first = make_app(block_description=["add a note"])
    second = make_app()
    async with serve_app(first) as one, serve_app(second) as two:
        path = tmp_path / "d.toml"
        servers = (
            f'[gateways.g.servers.notes]\ncommand = "{sys.executable}"\n'
            f'args = ["{DEMO}", "notes"]\n'
        )
        path.write_text(f'[guardrails.provider]\nurl = "{one}/check"\n' + servers)
        async with Daemon(load_config(path)) as daemon:
            path.write_text(f'[guardrails.provider]\nurl = "{two}/check"\n' + servers)
            reply = await daemon.reload()
            assert reply["notes"] == [
                "[guardrails.provider] changed: takes effect at the next restart"
            ]
            report = await DaemonApi(daemon).discover("g", "notes", refresh=True)
    assert [b.name for b in report.outcomes[0].blocked_tools] == ["add_note"]
    assert second.state.requests == 0


async def test_the_standalone_discover_blocks_through_the_provider_and_fails_closed(
    tmp_path: Path,
) -> None:
    """`mcp-discoveryd discover --json` (a subprocess) sends the tools to the provider; with
    the provider gone, the same run blocks the server with a reason and exits non-zero."""
    app = make_app(block_description=["add a note"])
    servers = (
        f'[gateways.g.servers.notes]\ncommand = "{sys.executable}"\nargs = ["{DEMO}", "notes"]\n'
    )
    command = [sys.executable, "-m", "mcp_discoveryd", "discover", "--json", "--config"]
    async with serve_app(app) as base:
        path = tmp_path / "up.toml"
        path.write_text(f'[guardrails.provider]\nurl = "{base}/check"\nname = "ref"\n' + servers)
        done = await anyio.run_process([*command, str(path)], check=False)
    entry = json.loads(done.stdout)["available_servers"]["notes"]
    assert entry["blocked_reasons"] == [
        "guardrail provider 'ref': description matches blocked pattern 'add a note'"
    ]
    down = tmp_path / "down.toml"
    down.write_text(f'[guardrails.provider]\nurl = "{base}/check"\nname = "ref"\n' + servers)
    done = await anyio.run_process([*command, str(down)], check=False)
    entry = json.loads(done.stdout)["available_servers"]["notes"]
    assert done.returncode != 0 and entry["blocked"] is True and entry["tools"] == []
    assert entry["violations"] == [
        "guardrail provider 'ref' unreachable (ConnectError); blocked (fail-closed)"
    ]
