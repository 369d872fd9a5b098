"""Third-party MCP servers over stdio, installed the way their users run them."""

from __future__ import annotations

import pytest
from tests.discovery.upstream_support import SDK, fetch, tool_names

from mcp_discoveryd.models import ServerSpec, StdioTarget

pytestmark = pytest.mark.slow


@pytest.mark.npm
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_server_everything(everything_server: tuple[str, str], mode: str) -> None:
    """The npm reference server: 13 tools, 4 prompts, 7 resources, 2 templates, classic era."""
    node, script = everything_server
    spec = ServerSpec(name="everything", target=StdioTarget(node, (script, "stdio")), timeout=20)
    result, _ = await fetch(spec, mode=mode)
    assert result.catalog is not None, result.error
    assert len(result.catalog.tools) == 13
    assert len(result.catalog.prompts) == 4
    assert len(result.catalog.resources) == 7
    assert len(result.catalog.resource_templates) == 2
    assert result.protocol_version == "2025-11-25"  # TS SDK 1.x: auto falls back to initialize
    assert result.server_info is not None and result.server_info["name"] == "mcp-servers/everything"


async def test_mcp_server_time(time_server: str) -> None:
    """The PyPI time server from its own virtual environment."""
    target = StdioTarget(time_server, ("--local-timezone", "UTC"))
    result, _ = await fetch(ServerSpec(name="time", target=target, timeout=20))
    assert sorted(tool_names(result)) == ["convert_time", "get_current_time"]
    assert result.server_info is not None and result.server_info["name"] == "mcp-time"


async def test_sdk_server_over_stdio_speaks_the_modern_era(python: str) -> None:
    """A Python SDK 2.x server as a subprocess negotiates 2026-07-28 in auto mode."""
    spec = ServerSpec(name="sdk", target=StdioTarget(python, (SDK, "high")), timeout=20)
    result, _ = await fetch(spec, mode="auto")
    assert result.catalog is not None, result.error
    assert result.protocol_version == "2026-07-28"
    assert len(result.catalog.tools) == 3
