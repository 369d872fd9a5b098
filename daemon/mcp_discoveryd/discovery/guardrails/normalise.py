"""Text as the guardrails match it, so one invisible or look-alike character changes nothing.

- ``fold``: NFKC (full-width and mathematical letters become plain ones), then every
  Default_Ignorable code point, blank look-alike and control character removed.
- ``spaced``: the same, with each removed character a space instead, for text that
  uses an invisible character in place of a space between words.
- ``skeleton``: the UTS #39 skeleton (``dеlete`` with a Cyrillic ``е`` and ``delete``
  share one), for name patterns.
- ``unconfuse``: only the non-ASCII characters that pose as ASCII ones replaced by
  them (``ignоre`` with a Cyrillic ``о`` reads ``ignore``), for text patterns: a full
  skeleton would also rewrite plain ASCII (``m`` is ``rn`` there).
- ``mixed_scripts`` and ``ascii_lookalikes``: signs that a name imitates another.

Plain ASCII text (nearly every tool) takes a shortcut in each: a pass to see it is
ASCII and printable, no normalisation. The confusable and script tables are parsed
on first use, never at import.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

# Default_Ignorable_Code_Point, every range of DerivedCoreProperties-17.0.0.txt (the
# property Unicode gives to characters a renderer shows as nothing).
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
# Not default-ignorable, yet drawn as an empty cell: used to make a name or a word look
# like something else. (The Hangul fillers U+115F, U+1160, U+3164 and U+FFA0 are above.)
BLANKS: tuple[tuple[int, int], ...] = (
    (0x2800, 0x2800),  # braille pattern blank
    (0x1D159, 0x1D159),  # musical symbol null notehead
)
# C0 and C1 controls except tab, line feed and carriage return (ANSI escapes start here).
CONTROLS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0008), (0x000B, 0x000C), (0x000E, 0x001F), (0x007F, 0x009F),
)  # fmt: skip
# Removed for matching but not reported as hidden: emoji use the variation selectors
# U+FE00..U+FE0F, and Mongolian text its free variation selectors.
_UNREPORTED = frozenset([*range(0xFE00, 0xFE10), 0x180B, 0x180C, 0x180D, 0x180F])
_MAX_EXPANSION = 4  # NFKC can expand a character 18-fold; text kept per input character


def _char_class(ranges: Iterable[tuple[int, int]]) -> re.Pattern[str]:
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"
    )


_REMOVED_RE = _char_class((*DEFAULT_IGNORABLE, *BLANKS, *CONTROLS))


def is_reported(code_point: int) -> bool:
    """Whether a removed character is a sign of hiding (not an emoji or Mongolian selector)."""
    return code_point not in _UNREPORTED


def removed(text: str) -> list[str]:
    """The characters ``fold`` drops from ``text``, in order (empty for printable ASCII)."""
    if text.isascii() and text.isprintable():
        return []
    return _REMOVED_RE.findall(text)


def fold(text: str) -> str:
    """NFKC, then every default-ignorable, blank look-alike and control character removed."""
    return _normalise(text, "")


def spaced(text: str) -> str:
    """Like ``fold``, but each removed character becomes a space ("ignore\\u200bprevious")."""
    return _normalise(text, " ")


def _normalise(text: str, replacement: str) -> str:
    if text.isascii():
        return text if text.isprintable() else _REMOVED_RE.sub(replacement, text)
    text = _REMOVED_RE.sub(replacement, text)
    # Removal first keeps "e\u00ad\u0301" composing; NFKC may map to an ignorable again.
    text = unicodedata.normalize("NFKC", text)[: _MAX_EXPANSION * len(text)]
    return _REMOVED_RE.sub(replacement, text)


def _table(name: str) -> list[str]:
    """The rows of one generated Unicode table (``unicode/*.txt``, see ``_unicode_gen.py``)."""
    text = files(__package__).joinpath("unicode", name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@cache
def _confusables() -> dict[int, str]:
    table: dict[int, str] = {}
    for line in _table("confusables.txt"):
        source, *target = line.split()
        table[int(source, 16)] = "".join(chr(int(t, 16)) for t in target)
    return table


@cache
def _ascii_skeleton() -> dict[int, str]:
    return {k: v for k, v in _confusables().items() if k < 0x80}


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text`` (meant for folded text: NFKC and ignorables done)."""
    if text.isascii():
        return text.translate(_ascii_skeleton())
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", decomposed.translate(_confusables()))


@cache
def _ascii_prototypes() -> dict[int, str]:
    """Each non-ASCII character whose skeleton is ASCII, mapped to that ASCII text."""
    table: dict[int, str] = {}
    for code_point in _confusables():
        if code_point < 0x80:
            continue
        char = chr(code_point)
        look = skeleton(char)
        if look.isascii() and look != char:
            # The skeleton writes every I-like letter as "l"; a capital one stands for "I".
            table[code_point] = "I" if look == "l" and char.isupper() else look
    return table


@cache
def _lookalike_chars() -> frozenset[str]:
    return frozenset(map(chr, _ascii_prototypes()))


def unconfuse(text: str) -> str:
    """``text`` with every non-ASCII character that poses as ASCII replaced by its ASCII."""
    # A set test first (a regex class of 700 characters is ten times slower): most
    # non-ASCII text (accents, CJK) has no look-alike at all.
    if text.isascii() or _lookalike_chars().isdisjoint(text):
        return text
    return text.translate(_ascii_prototypes())


def ascii_lookalikes(text: str) -> list[int]:
    """Non-ASCII characters of ``text`` that stand for ASCII ones (Cyrillic е for e), each once."""
    found: dict[int, None] = {}
    for char in text:
        if not char.isascii() and ord(char) not in found:
            look = skeleton(char)
            if look.isascii() and look != char:
                found[ord(char)] = None
    return list(found)


@cache
def _scripts() -> tuple[list[int], list[int], list[str]]:
    """Start, end and Script of every range (sorted, for bisect)."""
    rows = [line.split() for line in _table("scripts.txt")]
    return [int(r[0], 16) for r in rows], [int(r[1], 16) for r in rows], [r[2] for r in rows]


@cache
def _extensions() -> dict[int, frozenset[str]]:
    """Script_Extensions by code point (669 of them), where it differs from Script."""
    table: dict[int, frozenset[str]] = {}
    for line in _table("script_extensions.txt"):
        first, last, *codes = line.split()
        for code_point in range(int(first, 16), int(last, 16) + 1):
            table[code_point] = frozenset(codes)
    return table


# TR39: Han is also Japanese, Korean and Han-with-Bopomofo writing, so "漢字かな" is one script.
_AUGMENT = {
    "Hani": frozenset({"Hani", "Hanb", "Jpan", "Kore"}),
    "Hira": frozenset({"Hira", "Jpan"}),
    "Kana": frozenset({"Kana", "Jpan"}),
    "Hang": frozenset({"Hang", "Kore"}),
    "Bopo": frozenset({"Bopo", "Hanb"}),
}
_ANY_SCRIPT = frozenset({"Zyyy", "Zinh", "Zzzz"})  # Common, Inherited, Unknown
# TR39 "highly restrictive": Latin beside Japanese, Korean or Chinese with Bopomofo is fine.
_LATIN_COMBINATIONS = (
    frozenset({"Latn", "Jpan"}),
    frozenset({"Latn", "Kore"}),
    frozenset({"Latn", "Hanb"}),
)


def _script_set(char: str) -> frozenset[str] | None:
    """The augmented scripts of one character; None when it goes with any script."""
    code_point = ord(char)
    scripts = _extensions().get(code_point)
    if scripts is None:
        starts, ends, codes = _scripts()
        index = bisect_right(starts, code_point) - 1
        if index < 0 or code_point > ends[index]:
            return None
        scripts = frozenset((codes[index],))
    if scripts & _ANY_SCRIPT:
        return None
    return frozenset().union(*(_AUGMENT.get(s, frozenset((s,))) for s in scripts))


def mixed_scripts(text: str) -> tuple[str, ...]:
    """The scripts (ISO 15924 codes) a text mixes beyond what UTS #39 allows; empty if none."""
    if text.isascii():
        return ()
    sets = [s for s in map(_script_set, text) if s is not None]
    if not sets or frozenset.intersection(*sets):
        return ()
    if any(all(s & combination for s in sets) for combination in _LATIN_COMBINATIONS):
        return ()
    # Name each character's own script (the first of its set that is not an augmentation).
    names = {min(s - {"Jpan", "Kore", "Hanb"} or s) for s in sets}
    return tuple(sorted(names))
