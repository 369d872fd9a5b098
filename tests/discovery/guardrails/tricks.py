"""Hypothesis strategies for the one-character tricks: invisible insertions and look-alikes."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable
from functools import cache

from hypothesis import strategies as st

from mcp_discoveryd.discovery.guardrails.normalise import (
    BLANKS,
    CONTROLS,
    DEFAULT_IGNORABLE,
    skeleton,
    unconfuse,
)

# Every character the guardrails read as nothing: each Default_Ignorable range, the blank
# look-alikes and the control characters (tab, line feed and carriage return are text).
INVISIBLE = st.sampled_from((*DEFAULT_IGNORABLE, *BLANKS, *CONTROLS)).flatmap(
    lambda span: st.integers(span[0], span[1]).map(chr)
)


@cache
def _all_lookalikes() -> list[str]:
    """Every letter or digit outside ASCII that is confusable with an ASCII character."""
    found = []
    for code_point in range(0x80, 0x20000):
        char = chr(code_point)
        if unicodedata.category(char)[0] not in "LN" or unicodedata.normalize("NFKC", char) != char:
            continue
        look = skeleton(char)
        if len(look) == 1 and look.isascii() and look.isalnum():
            found.append(char)
    return found


@cache
def text_lookalikes() -> dict[str, tuple[str, ...]]:
    """For each ASCII letter or digit (lower case), the characters text patterns read as it."""
    table: dict[str, list[str]] = defaultdict(list)
    for char in _all_lookalikes():
        table[unconfuse(char).lower()].append(char)
    return {k: tuple(v) for k, v in table.items()}


@cache
def name_lookalikes() -> dict[str, tuple[str, ...]]:
    """For each ASCII letter or digit, the characters sharing its case-insensitive skeleton."""
    table: dict[str, list[str]] = defaultdict(list)
    for char in _all_lookalikes():
        table[name_key(char)].append(char)
    return {k: tuple(v) for k, v in table.items()}


@st.composite
def with_invisibles(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four invisible characters inserted anywhere."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        chars.insert(draw(st.integers(0, len(chars))), draw(INVISIBLE))
    return "".join(chars)


@st.composite
def with_invisible_spaces(draw: st.DrawFn, text: str) -> str:
    """``text`` with some of its spaces replaced by invisible characters."""
    return "".join(
        draw(INVISIBLE) if char == " " and draw(st.booleans()) else char for char in text
    )


def text_key(char: str) -> str:
    """How text patterns compare a character: case-insensitively."""
    return char.lower()


def name_key(char: str) -> str:
    """How deny patterns compare a character: UTS #39 case-insensitive, skeleton(casefold(c))."""
    return skeleton(char.casefold())


@st.composite
def with_lookalikes(
    draw: st.DrawFn, text: str, table: dict[str, tuple[str, ...]], key: Callable[[str], str]
) -> str:
    """``text`` with one to four of its ASCII letters or digits replaced by look-alikes."""
    chars = list(text)
    positions = [i for i, c in enumerate(chars) if c.isascii() and key(c) in table]
    if not positions:
        return text
    chosen = draw(st.lists(st.sampled_from(positions), min_size=1, max_size=4, unique=True))
    for index in chosen:
        chars[index] = draw(st.sampled_from(table[key(chars[index])]))
    return "".join(chars)
