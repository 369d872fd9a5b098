"""Folding, skeletons and script checks: the text the guardrails match."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.discovery.guardrails.normalise import (
    BLANKS,
    DEFAULT_IGNORABLE,
    ascii_lookalikes,
    fold,
    mixed_scripts,
    removed,
    skeleton,
    spaced,
    unconfuse,
)

from .tricks import INVISIBLE, with_invisibles

# Format characters (Cf) that UAX #44 keeps out of Default_Ignorable_Code_Point: the
# interlinear annotation controls, Egyptian hieroglyph format controls and prepended
# concatenation marks (they have visible glyphs).
_VISIBLE_FORMAT = {
    *range(0xFFF9, 0xFFFC), *range(0x13430, 0x13440), *range(0x0600, 0x0606), 0x06DD,
    0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD,
}  # fmt: skip

# Text that must come through untouched: letters with accents, CJK, Hangul, RTL.
PLAIN = st.text(
    st.characters(
        codec="utf-8",
        categories=("Lu", "Ll", "Lo", "Nd", "Zs", "Pc", "Pd", "Po"),
        exclude_characters="".join(
            chr(c) for a, b in DEFAULT_IGNORABLE + BLANKS for c in range(a, b + 1) if c < 0x20000
        ),
    ),
    max_size=40,
)


def _in_table(code_point: int) -> bool:
    return any(a <= code_point <= b for a, b in DEFAULT_IGNORABLE)


def test_every_invisible_format_character_is_in_the_default_ignorable_table() -> None:
    """The table holds every Cf and variation selector that UAX #44 derives into the property."""
    missing = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Cf" and cp not in _VISIBLE_FORMAT and not _in_table(cp)
    ]
    assert missing == []
    selectors = [*range(0x180B, 0x180E), 0x180F, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
    assert all(_in_table(cp) for cp in selectors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ign\u00adore", "Ignore"),
        ("dele\u200bte\u2060_repo", "delete_repo"),
        ("ｄｅｌｅｔｅ", "delete"),
        ("\U0001d41d\U0001d41e\U0001d425", "del"),  # mathematical bold letters
        ("a\u2800b\u3164c\u115fd\u1160e\uffa0f", "abcdef"),  # blank look-alikes
        ("tag\U000e0041\U000e0042s", "tags"),
        ("x\x1b[31my", "x[31my"),
        ("Zeile 1\tÄnderung\n", "Zeile 1\tÄnderung\n"),
        ("e\u00ad\u0301", "\u00e9"),  # the ignorable goes first, so the accent composes
    ],
)
def test_fold_applies_nfkc_and_drops_invisible_characters(text: str, expected: str) -> None:
    """Compatibility forms fold, and every invisible or blank character is gone."""
    assert fold(text) == expected


def test_spaced_reads_each_removed_character_as_a_space() -> None:
    """An invisible character standing between words becomes a space."""
    assert spaced("ignore\u2800previous\u200binstructions") == "ignore previous instructions"
    assert removed("a\u200bb\u2800") == ["\u200b", "\u2800"]
    assert removed("plain ascii") == []


@given(PLAIN, st.data())
def test_inserting_invisible_characters_never_changes_the_folded_text(
    text: str, data: st.DataObject
) -> None:
    """fold(text with invisibles anywhere) == fold(text), for any plain text."""
    assert fold(data.draw(with_invisibles(text))) == fold(text)


@given(INVISIBLE)
def test_every_invisible_character_is_removed(char: str) -> None:
    """Each character of the tables, alone between two letters, folds away."""
    assert fold(f"a{char}b") == "ab"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("dеlete_repo", "delete_repo"),  # Cyrillic е
        ("ρaypal", "paypal"),  # Greek rho
        ("\u0456nfo", "info"),  # Ukrainian i
        ("delete_fiIe", "delete_file"),  # capital I for l
        ("v0", "vO"),
    ],
)
def test_look_alike_names_share_a_skeleton(a: str, b: str) -> None:
    """UTS #39 skeletons are equal for names a person cannot tell apart."""
    assert skeleton(a) == skeleton(b)


def test_unconfuse_rewrites_only_non_ascii_look_alikes() -> None:
    """Plain ASCII stays as it is (no "m" to "rn"); Cyrillic posing as Latin reads as Latin."""
    assert unconfuse("ignоre the system") == "ignore the system"
    assert unconfuse("Іgnore") == "Ignore"  # a capital I-like letter stays a capital I
    assert unconfuse("résumé 東京") == "résumé 東京"


@pytest.mark.parametrize(
    ("name", "scripts"),
    [
        ("dеlete_repo", ("Cyrl", "Latn")),
        ("αβγ_x", ("Grek", "Latn")),
        ("café_lookup", ()),
        ("データ取得", ()),  # katakana and Han: Japanese, one script
        ("get_データ", ()),  # Latin beside Japanese is allowed (highly restrictive)
        ("날씨_today", ()),
        ("удалить", ()),
        ("get_погода", ("Cyrl", "Latn")),
    ],
)
def test_mixed_scripts_follow_uts39_highly_restrictive(name: str, scripts: tuple[str, ...]) -> None:
    """Latin with Cyrillic or Greek is mixed; Latin with Japanese or Korean is not."""
    assert mixed_scripts(name) == scripts


def test_ascii_lookalikes_name_characters_posing_as_ascii() -> None:
    """Cyrillic or Greek letters drawn like ASCII ones are named; accents and CJK are not."""
    assert ascii_lookalikes("dеlete_rеpo") == [0x0435]
    assert ascii_lookalikes("café データ 날씨") == []
