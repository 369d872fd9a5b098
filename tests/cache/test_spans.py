"""The top-level walk that keeps one value's source text: json.loads's answer, and the exact span."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.cache.spans import value_with_raw

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(["catalog", "v", "x", "catalo", "catalog\u200b", ""]) | st.text(max_size=4)
_docs = st.dictionaries(_keys, _json, max_size=6)
_layouts = st.sampled_from(
    [
        {"separators": (",", ":")},
        {"indent": 2},
        {"indent": "\t", "ensure_ascii": False},
        {"separators": (" ,  ", " : ")},
    ]
)


@given(_docs, _layouts)
def test_an_object_decodes_as_json_loads_and_the_span_is_the_value(
    doc: dict[str, Any], layout: dict[str, Any]
) -> None:
    text = " \n" + json.dumps(doc, **layout) + "\r\n "
    found, raw = value_with_raw(text, "catalog")
    assert found == json.loads(text)
    if "catalog" in doc:
        assert raw is not None and json.loads(raw) == doc["catalog"]
        assert raw == raw.strip() and raw in text
    else:
        assert raw is None


def test_a_repeated_key_keeps_the_last_value_as_json_loads_does() -> None:
    found, raw = value_with_raw('{"catalog":[1],"catalog":{"tools":[]}}', "catalog")
    assert found == {"catalog": {"tools": []}} and raw == '{"tools":[]}'


def test_a_key_inside_a_nested_value_or_a_string_is_not_the_top_level_one() -> None:
    text = '{"server_info":{"catalog":{"no":1}},"note":"\\"catalog\\":{","catalog":{"tools":[]}}'
    assert value_with_raw(text, "catalog")[1] == '{"tools":[]}'


@given(_json)
def test_a_value_that_is_not_an_object_decodes_as_json_loads(value: Any) -> None:
    text = json.dumps(value)
    assert value_with_raw(text, "catalog") == (json.loads(text), None)


@given(_docs, st.integers(min_value=0), st.sampled_from(["", "}", ",", ":", '"', "x", "]", "{"]))
def test_broken_text_is_refused_where_json_loads_refuses_it(
    doc: dict[str, Any], at: int, junk: str
) -> None:
    """Cut or spliced text: a ValueError exactly when json.loads raises one, else its answer."""
    text = json.dumps(doc)
    at %= len(text) + 1
    broken = text[:at] + junk + text[at + 1 :]
    try:
        expected = json.loads(broken)
    except ValueError:
        with pytest.raises(ValueError):
            value_with_raw(broken, "catalog")
    else:
        assert value_with_raw(broken, "catalog")[0] == expected
