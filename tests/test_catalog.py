"""A catalog held encoded: the same items out as in, whatever the upstream sent, and a bounded memo."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from tests.cache.builders import catalog, entry, tool
from tests.cache.strategies import catalogs

from mcp_discoveryd import catalog as catalog_module
from mcp_discoveryd.catalog import Catalog
from mcp_discoveryd.models import JSONObject


def _lists(c: Catalog) -> tuple[Any, ...]:
    return (c.tools, c.prompts, c.resources, c.resource_templates)


@given(catalogs)
def test_packed_catalog_gives_back_every_item_and_field(original: Catalog) -> None:
    """_meta, output schemas, annotations, unknown fields, any text: nothing lost or changed."""
    packed = original.packed()
    assert packed.is_packed and not original.is_packed
    assert _lists(packed) == _lists(original)
    assert packed == original and original == packed
    assert packed.tool_count == len(original.tools)
    assert packed.empty == (not any(_lists(original)))


@given(catalogs)
def test_encoded_is_the_compact_catalog_object_without_empty_lists(original: Catalog) -> None:
    doc = {k: list(v) for k, v in zip(catalog_module.LISTS, _lists(original), strict=True) if v}
    compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    assert original.packed().encoded == original.encoded == compact


def test_packing_twice_or_an_entry_replaced_does_not_encode_again() -> None:
    packed = catalog().packed()
    assert packed.packed() is packed
    held = entry()
    assert held.catalog.is_packed  # what a cache entry holds
    assert dataclasses.replace(held, consecutive_failures=1).catalog is held.catalog


def test_every_empty_catalog_packs_to_one_object() -> None:
    assert Catalog().packed() is Catalog((), (), (), ()).packed() is catalog_module.EMPTY


def test_with_tools_keeps_prompts_resources_and_templates() -> None:
    original = catalog(tools=3).packed()
    kept = original.with_tools(original.tools[:1])
    assert [t["name"] for t in kept.tools] == ["tool_0"]
    assert _lists(kept)[1:] == _lists(original)[1:]


def test_a_catalog_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog().packed()._lists = None


def test_a_hot_catalog_is_decoded_once_and_the_memo_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading one packed catalog again reuses its items; reading many keeps the memo in bound."""
    memo = catalog_module._Memo(limit=64 * 1024)
    monkeypatch.setattr(catalog_module, "_memo", memo)
    hot = Catalog(tools=tuple(tool(i) for i in range(20))).packed()
    assert hot.tools is hot.tools  # decoded once, then served from the memo
    others = [Catalog(tools=(tool(i),)).packed() for i in range(500)]
    for other in others:
        assert other.tools[0]["name"] == f"tool_{other.tools[0]['_meta']['example.com/version']}"
    assert memo._bytes <= memo.limit
    assert hot.tools == tuple(tool(i) for i in range(20))  # pushed out: decoded afresh, the same


def test_a_catalog_larger_than_the_memo_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = catalog_module._Memo(limit=1024)
    monkeypatch.setattr(catalog_module, "_memo", memo)
    big = Catalog(tools=tuple(tool(i) for i in range(20))).packed()
    assert big.tools == big.tools and big.tools is not big.tools
    assert memo._bytes == 0


def _tool(name: str) -> JSONObject:
    return {"name": name, "inputSchema": {"type": "object"}}


def test_equality_ignores_key_order_like_the_dicts_it_holds() -> None:
    stored = b'{"tools": [{"name": "a", "x": 1, "y": 2}]}'  # another writer's spacing
    a = Catalog.from_packed(stored, catalog_module.decode_lists(stored))
    b = Catalog(tools=({"y": 2, "x": 1, "name": "a"},)).packed()
    assert a.encoded != b.encoded
    assert a == b and hash(a) == hash(b)
    assert a != Catalog(tools=(_tool("a"),))


def test_the_empty_catalog_reads_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "decode_lists", None)  # a decode would raise
    assert catalog_module.EMPTY.tools == () and catalog_module.EMPTY.is_packed
    assert catalog_module.EMPTY.encoded == b"{}" and catalog_module.EMPTY == Catalog()
