"""The versioned entry codec: lossless round trips, compact bytes, and loud refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.cache.builders import entry, full_entry
from tests.cache.strategies import catalogs

from mcp_discoveryd.cache import EntrySummary, codec
from mcp_discoveryd.catalog import LISTS
from mcp_discoveryd.errors import CacheDecodeError
from mcp_discoveryd.models import CacheEntry, CacheType, Catalog


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
    changed = replace(original, catalog=original.catalog.with_tools(tools))
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


@given(catalogs)
def test_an_entry_round_trips_any_catalog_item_for_item(original_catalog: Catalog) -> None:
    """Held encoded or not, every tool field (_meta, outputSchema, ...) comes back the same."""
    original = replace(full_entry(), catalog=original_catalog)
    data = codec.encode(original)
    back = codec.decode(data)
    assert back == original
    for name in ("tools", "prompts", "resources", "resource_templates"):
        assert getattr(back.catalog, name) == getattr(original_catalog, name)
    assert codec.encode(back) == data  # the held bytes go out as they came in
    assert json.loads(data) == json.loads(_old_encode(original))  # the stored form is unchanged


@given(catalogs, st.sampled_from([{"indent": 1}, {"separators": (", ", ": ")}]))
def test_an_entry_from_another_writer_reads_the_same(
    original_catalog: Catalog, layout: dict[str, Any]
) -> None:
    """Key order and spacing are the writer's: catalog first, spaced out, still the same entry."""
    original = replace(full_entry(), catalog=original_catalog)
    doc = json.loads(codec.encode(original))
    reordered = {"catalog": doc.pop("catalog", {}), **doc}
    back = codec.decode(json.dumps(reordered, **layout).encode())
    assert back == original and back.catalog.tools == original_catalog.tools
    assert json.loads(codec.encode(back)) == json.loads(codec.encode(original))


def _old_encode(entry: CacheEntry) -> bytes:
    """The stored form as the codec wrote it before catalogs were held encoded."""
    doc = json.loads(codec.encode(replace(entry, catalog=Catalog())))
    cat = entry.catalog
    lists = zip(LISTS, (cat.tools, cat.prompts, cat.resources, cat.resource_templates), strict=True)
    catalog = {name: list(items) for name, items in lists if items}
    if catalog:
        doc["catalog"] = catalog
    return json.dumps(doc).encode()


@given(
    surrogate=st.integers(min_value=0xD800, max_value=0xDFFF),
    where=st.integers(min_value=0, max_value=10_000),
)
def test_a_lone_surrogate_escape_from_another_writer_is_refused_naming_the_key(
    surrogate: int, where: int
) -> None:
    """Redis contents are hostile: an escape no UTF-8 string can hold is a decode error,
    never an entry that later fails to encode or hash (tooldiff digests every tool)."""
    data = codec.encode(full_entry())
    quotes = [i for i, byte in enumerate(data) if byte == ord('"')]
    at = quotes[where % len(quotes)] + 1  # after a quote: inside a string, or just past one
    bad = data[:at] + f"\\u{surrogate:04x}".encode() + data[at:]
    try:
        json.loads(bad)
        why = "lone surrogate"  # still JSON: the escape is what is refused
    except ValueError:
        why = "not JSON"
    with pytest.raises(CacheDecodeError, match=f"k1: .*{why}"):
        codec.decode(bad, "k1")


def test_a_surrogate_pair_escaped_by_another_writer_reads_as_its_character() -> None:
    data = codec.encode(entry("g", "s"))
    escaped = data.replace(b'"tool_0"', b'"tool_\\ud83d\\ude00"', 1)
    decoded = codec.decode(escaped, "k1")
    assert decoded.catalog.tools[0]["name"] == "tool_\U0001f600"
    assert codec.decode(codec.encode(decoded), "k1").catalog.tools[0]["name"] == "tool_\U0001f600"
