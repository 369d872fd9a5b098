"""on_tool_change: a default in [guardrails.tools], per server, and in Enkrypt's own object."""

from __future__ import annotations

from pathlib import Path

from tests.config.support import load_text, problems
from tests.config.test_enkrypt_loader import load_json, minimal

_SERVERS = """
[gateways.g.servers.a]
command = "a"
[gateways.g.servers.b]
command = "b"
[gateways.g.servers.b.guardrails.tools]
on_tool_change = "report"
"""


def test_default_is_report(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[gateways.g.servers.a]\ncommand = "a"\n')
    assert config.gateways[0].servers[0].tool_policy.on_tool_change == "report"


def test_guardrails_default_and_a_server_s_own_override(tmp_path: Path) -> None:
    text = '[guardrails.tools]\non_tool_change = "block"\n' + _SERVERS
    a, b = load_text(tmp_path, text).gateways[0].servers
    assert a.tool_policy.on_tool_change == "block"
    assert b.tool_policy.on_tool_change == "report"


def test_an_unknown_value_is_a_problem_at_its_place(tmp_path: Path) -> None:
    found = problems(tmp_path, '[guardrails.tools]\non_tool_change = "ignore"\n' + _SERVERS)
    assert any("on_tool_change" in location for location in found)


def test_enkrypt_own_object_sets_it(tmp_path: Path) -> None:
    doc = minimal()
    doc["mcp_discoveryd"] = {"guardrails": {"tools": {"on_tool_change": "block"}}}
    config = load_json(tmp_path, doc)
    assert config.gateways[0].servers[0].tool_policy.on_tool_change == "block"
