"""The daemon opens the configured guardrail provider and every discovery path goes through it."""

from __future__ import annotations

import sys
from pathlib import Path

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
