"""Helpers for the tool guardrail tests: a tool listing item, the default policy and its reasons."""

from __future__ import annotations

from typing import Any

from mcp_discoveryd.discovery.guardrails import (
    ToolVerdict,
)
from mcp_discoveryd.models import ToolPolicy

DEFAULT = ToolPolicy()
DESTRUCTIVE = "destructive tool (destructiveHint) not allowed by policy"
MAYBE_DESTRUCTIVE = (
    "possibly destructive tool (destructiveHint not set, spec default true) not allowed by policy"
)
OPEN_WORLD = "open-world tool (openWorldHint) not allowed by policy"
MAYBE_OPEN_WORLD = (
    "possibly open-world tool (openWorldHint not set, spec default true) not allowed by policy"
)


def tool(
    name: object = "search", description: object = "Search the notes.", **extra: object
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    out.update(extra)
    return out


def reasons_of(verdict: ToolVerdict) -> dict[str, tuple[str, ...]]:
    return {b.name: b.reasons for b in verdict.blocked}
