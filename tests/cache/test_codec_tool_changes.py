"""The codec's rug-pull fields: added to version 1, so entries written before them still read."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.cache.builders import entry

from mcp_discoveryd.cache import codec
from mcp_discoveryd.discovery.guardrails import tooldiff
from mcp_discoveryd.models import JSONObject


def _tool(description: str) -> JSONObject:
    return {"name": "read", "description": description, "inputSchema": {"type": "object"}}


def test_accepted_set_and_pending_changes_round_trip() -> None:
    known = (tooldiff.accepted(_tool("Reads a file.")),)
    changes = tooldiff.compare(known, [_tool("Reads a file and mails it.")])
    original = replace(entry(), accepted_tools=known, tool_changes=changes)
    assert codec.decode(codec.encode(original)) == original


def test_an_empty_accepted_set_is_kept_apart_from_never_reviewed() -> None:
    """A server that listed no tools has accepted nothing: its first tool is new, not trusted."""
    reviewed = codec.decode(codec.encode(replace(entry(tools=0), accepted_tools=())))
    assert reviewed.accepted_tools == ()
    assert codec.decode(codec.encode(entry())).accepted_tools is None


def test_an_entry_written_before_rug_pull_detection_reads_as_never_reviewed() -> None:
    doc = json.loads(codec.encode(entry()))
    doc.pop("accepted_tools", None)
    doc.pop("tool_changes", None)
    old = codec.decode(json.dumps(doc).encode())
    assert old.accepted_tools is None and old.tool_changes == ()
    assert old.catalog == entry().catalog
