"""An accepted tool set held packed: the same records out as in, compared and stored as before."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.cache.builders import entry
from tests.cache.strategies import tools

from mcp_discoveryd.accepted import COVERED, AcceptedSet, AcceptedTool
from mcp_discoveryd.cache import codec
from mcp_discoveryd.discovery.guardrails import tooldiff
from mcp_discoveryd.models import JSONObject

_listings = st.lists(tools, max_size=6, unique_by=lambda t: str(t["name"]))


@given(_listings)
def test_a_packed_set_reads_back_every_record(listing: list[JSONObject]) -> None:
    records = tuple(tooldiff.accepted(t) for t in listing)
    packed = AcceptedSet.pack(records)
    assert isinstance(packed, AcceptedSet) and len(packed) == len(records)
    assert tuple(packed) == records and packed == records and records == packed
    assert [r.to_json() for r in packed] == [r.to_json() for r in records]
    assert hash(packed) == hash(records)
    if records:
        assert packed[-1] == records[-1] and tuple(packed[:1]) == records[:1]


@given(_listings)
def test_an_entry_holds_its_accepted_set_packed_and_the_codec_round_trips_it(
    listing: list[JSONObject],
) -> None:
    records = tuple(tooldiff.accepted(t) for t in listing)
    held = replace(entry(), accepted_tools=records)
    assert isinstance(held.accepted_tools, AcceptedSet)
    assert replace(held, consecutive_failures=1).accepted_tools is held.accepted_tools
    back = codec.decode(codec.encode(held))
    assert back == held and tuple(back.accepted_tools or ()) == records


@given(_listings, st.data())
def test_changes_against_a_packed_set_name_the_changed_field(
    listing: list[JSONObject], data: st.DataObject
) -> None:
    if not listing:
        return
    known = AcceptedSet.pack(tooldiff.accepted(t) for t in listing)
    tool = listing[0]
    field = data.draw(st.sampled_from(tooldiff.COVERED[1:]))
    changed = {**tool, field: ["changed", tool.get(field)]}
    changes = tooldiff.compare(known, [changed, *listing[1:]])
    assert [(c.tool, c.kind, c.fields) for c in changes] == [(tool["name"], "changed", (field,))]


def test_names_and_descriptions_with_lone_surrogates_survive() -> None:
    """Python's json reads any code point, an unpaired surrogate too."""
    digest = bytes(32)
    record = AcceptedTool.of("t\ud800", digest, [("name", digest)], "d\udfff")
    assert tuple(AcceptedSet.pack([record])) == (record,)


def test_a_record_of_fields_this_daemon_does_not_cover_is_kept_whole() -> None:
    """A stored form from a daemon covering more fields is not narrowed to ours."""
    raw = tooldiff.accepted({"name": "t", "inputSchema": {}}).to_json()
    raw["fields"]["icons"] = raw["hash"]
    record = AcceptedTool.from_json(json.loads(json.dumps(raw)))
    kept = AcceptedSet.pack([record])
    assert kept == (record,) and kept[0].to_json() == raw


@given(st.permutations([*COVERED, "icons", "extra"]).map(lambda n: n[:4]))
def test_fields_in_any_order_make_the_same_record(names: list[str]) -> None:
    """Fields are recorded in COVERED order (others after, as given) however they arrive."""
    digests = {n: bytes([i]) * 32 for i, n in enumerate(names)}
    record = AcceptedTool.of("t", bytes(32), [(n, digests[n]) for n in names])
    order = sorted(names, key=lambda n: COVERED.index(n) if n in COVERED else len(COVERED))
    assert record.covered == tuple(order)
    assert record.field_digests == b"".join(digests[n] for n in order)
    assert all(record.field_digest(n) == digests[n] for n in names if n in COVERED)


@given(
    shifts=st.lists(st.integers(-32, 32), min_size=1, max_size=len(COVERED) - 1).filter(
        lambda shifts: any(shifts) and abs(sum(shifts)) <= 32
    )
)
def test_a_field_digest_of_any_other_size_is_refused_even_when_the_sizes_add_up(
    shifts: list[int],
) -> None:
    """Field digests are 32 bytes each: sizes off by amounts that cancel out (a 31- and a
    33-byte pair: 64 bytes in all, as two good ones) are refused too."""
    sizes = [32 + shift for shift in shifts] + [32 - sum(shifts)]
    fields = [(name, b"x" * size) for name, size in zip(COVERED[: len(sizes)], sizes, strict=True)]
    with pytest.raises(ValueError, match="32 bytes"):
        AcceptedTool.of("t", b"d" * 32, fields)
