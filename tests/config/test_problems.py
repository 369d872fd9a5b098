"""Key paths in problem messages: one line whatever the keys hold, spelled as TOML would."""

from __future__ import annotations

import json
import tomllib

from hypothesis import example, given
from hypothesis import strategies as st

from mcp_discoveryd.config.problems import format_path

KEYS = st.text() | st.sampled_from(["\x85", "\u2028", "\u2029", "\x1c", "\x0b", "a\x85b"])


@given(st.lists(KEYS | st.integers(min_value=0, max_value=99), max_size=4))
@example(["mcp_configs", "cfg", "mcp_config", 0, "tools", "\x85"])  # found by a generated config
def test_a_key_path_is_one_printable_line_whatever_its_keys(path: list[str | int]) -> None:
    text = format_path(tuple(path))
    assert len(text.splitlines()) == 1 and text.isprintable(), repr(text)


@given(st.text(min_size=1))
def test_a_quoted_key_reads_back_as_itself_in_toml(key: str) -> None:
    text = format_path(("t", key))
    assert tomllib.loads(f"{text} = 1") == {"t": {key: 1}}


@given(st.text(st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), min_size=1))
def test_a_printable_key_is_spelled_as_before(key: str) -> None:
    """Only keys with unprintable characters change spelling: the rest stay JSON-quoted."""
    text = format_path((key,))
    assert text == key or text == json.dumps(key, ensure_ascii=False) or not key.isprintable()
