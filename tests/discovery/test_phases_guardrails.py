"""Phases call the guardrails through the seam, so an external provider applies everywhere."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mcp_discoveryd.config.settings import DaemonConfig, GatewayConfig
from mcp_discoveryd.discovery.guardrails import Guardrails, ToolVerdict
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import BlockedTool, JSONObject, ServerSpec, StdioTarget

DEMO = str(
    Path(__file__).resolve().parents[2] / "daemon" / "examples" / "servers" / "demo_server.py"
)
NO = "external guardrail says no"


class Judge:
    """An external provider (none exists yet to run for real): denies the names it is given."""

    name = "judge"

    def __init__(self, *deny: str) -> None:
        self.deny = deny

    async def check_server(self, spec: ServerSpec) -> tuple[str, ...]:
        return (NO,) if spec.name in self.deny else ()

    async def check_tools(self, spec: ServerSpec, tools: Sequence[JSONObject]) -> ToolVerdict:
        kept = tuple(t for t in tools if t["name"] not in self.deny)
        blocked = tuple(BlockedTool(str(t["name"]), (NO,)) for t in tools if t not in kept)
        return ToolVerdict(kept, blocked)


def demo(name: str) -> ServerSpec:
    return ServerSpec(name=name, target=StdioTarget(sys.executable, (DEMO, "notes")))


async def test_a_provider_blocks_servers_and_tools_in_every_phase() -> None:
    """The provider's server and tool verdicts reach discovered and config-defined servers."""
    from_config = ServerSpec(
        name="static",
        target=StdioTarget("unused"),
        tools=({"name": "keep_me", "description": "Fine."}, {"name": "drop_me"}),
    )
    gateway = GatewayConfig(id="g", servers=(demo("notes"), demo("denied"), from_config))
    config = DaemonConfig(path="<test>", format="toml", gateways=(gateway,))
    checks = Guardrails(Judge("denied", "add_note", "drop_me"))
    async with UpstreamClient(config.discovery) as upstream:
        report = await run_discovery(config, upstream, checks=checks)
    notes, denied, static = report.outcomes
    assert notes.status == "success"
    assert [t["name"] for t in notes.catalog.tools] == ["list_notes", "read_note"]
    assert notes.blocked_tools == (BlockedTool("add_note", (NO,)),)
    assert denied.status == "blocked" and denied.violations == (NO,)
    assert [t["name"] for t in static.catalog.tools] == ["keep_me"]
    assert static.blocked_tools == (BlockedTool("drop_me", (NO,)),)
