"""The versioned entry codec: lossless round trips, compact bytes, and loud refusals."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tests.cache.builders import entry, full_entry

from mcp_discoveryd.cache import EntrySummary, codec
from mcp_discoveryd.errors import CacheDecodeError
from mcp_discoveryd.models import CacheType


def test_full_entry_round_trips_every_field() -> None:
    """Decoding an encoded entry gives an equal entry: catalog, schemas, _meta, errors, times."""
    original = full_entry()
    assert codec.decode(codec.encode(original)) == original


def test_config_entry_round_trips() -> None:
    """Gateway config entries (no server, a config summary) survive the codec."""
    original = entry(cache_type=CacheType.GATEWAY_CONFIG)
    assert codec.decode(codec.encode(original)) == original


def test_encoding_is_compact_json_with_version_first() -> None:
    """The stored form is JSON without spaces, starting with the format version."""
    data = codec.encode(entry())
    assert data.startswith(b'{"v":1,')
    assert b", " not in data and b": " not in data
    assert json.loads(data)["type"] == "tools"


def test_empty_fields_are_left_out() -> None:
    """Defaults (no error, no capabilities, zero failures) take no bytes."""
    doc = json.loads(codec.encode(entry(tools=0)))
    for absent in ("last_error", "capabilities", "consecutive_failures", "private", "server_info"):
        assert absent not in doc


def test_non_ascii_text_survives() -> None:
    """Descriptions in any script are stored as UTF-8 and come back unchanged."""
    original = entry()
    tools = ({**original.catalog.tools[0], "description": "Überprüft 日本語 ✓"},)
    changed = replace(original, catalog=replace(original.catalog, tools=tools))
    assert (
        codec.decode(codec.encode(changed)).catalog.tools[0]["description"] == "Überprüft 日本語 ✓"
    )


def test_other_version_is_refused() -> None:
    """An entry written by another format version raises CacheDecodeError naming the version."""
    doc = json.loads(codec.encode(entry()))
    doc["v"] = 2
    with pytest.raises(CacheDecodeError, match="version 2"):
        codec.decode(json.dumps(doc).encode(), "k")


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe garbage", b"not json", b"[1, 2]", b'"text"', b"{}", b'{"v": 1}'],
    ids=["bytes", "text", "array", "string", "empty", "no-fields"],
)
def test_corrupt_bytes_are_refused(data: bytes) -> None:
    """Bytes that are not a version-1 entry raise CacheDecodeError, never another exception."""
    with pytest.raises(CacheDecodeError):
        codec.decode(data, "k")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fetched_at", "yesterday"),
        ("source", "somewhere"),
        ("type", "nope"),
        ("catalog", {"tools": ["not an object"]}),
        ("last_error", {"kind": "unheard_of", "message": "x"}),
        ("gateway_id", 7),
    ],
)
def test_malformed_fields_are_refused(field: str, value: object) -> None:
    """A well-formed JSON object with a wrong field type or value is a decode error."""
    doc = json.loads(codec.encode(full_entry()))
    doc[field] = value
    with pytest.raises(CacheDecodeError, match="malformed"):
        codec.decode(json.dumps(doc).encode(), "k")


def test_summary_round_trips() -> None:
    """Index summaries keep counts, times, error and size."""
    summary = EntrySummary.of(full_entry(), 1234)
    assert codec.decode_summary(codec.encode_summary(summary)) == summary


def test_corrupt_summary_is_refused() -> None:
    """A summary that is not one raises CacheDecodeError."""
    with pytest.raises(CacheDecodeError):
        codec.decode_summary(b'{"v":1,"type":"tools"}', "idx")
