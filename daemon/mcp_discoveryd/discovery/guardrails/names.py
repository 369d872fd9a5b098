"""Name patterns (tool names, command names) that one invisible or look-alike character cannot dodge.

Both sides are folded first (NFKC, default-ignorable and blank characters removed).
A deny pattern hits when it matches, case-insensitively, either the folded name
or its UTS #39 skeleton (against the pattern's skeleton): ``delete\\u00ad_repo``,
``ＤＥＬＥＴＥ_repo`` and ``dеlete_repo`` (Cyrillic ``е``) all hit ``delete_*``.
An allow pattern must match the folded name exactly (case-sensitive); a skeleton
never widens an allow list, so a look-alike name is not allowed by the name it
imitates. Both lean toward blocking.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from functools import lru_cache

from .normalise import ascii_lookalikes, fold, mixed_scripts, skeleton

_BRACKET = re.compile(r"(\[[^\]]*\])")  # a glob character class, kept as written
_LISTED = 3  # look-alike code points named in one sign


def _keys(folded: str) -> tuple[str, str, str]:
    """The folded text case-folded, its skeleton case-folded, and the skeleton of it case-folded.

    Skeletons are case-sensitive ("I" looks like "l", "i" does not), so both orders count.
    """
    lower = folded.casefold()
    return lower, skeleton(folded).casefold(), skeleton(lower).casefold()


@lru_cache(maxsize=4096)
def _pattern_keys(pattern: str) -> tuple[str, str, str]:
    # Skeleton outside character classes only: "[a-m]" must not become "[a-rn]".
    parts = _BRACKET.split(fold(pattern))
    keys = [_keys(p) if i % 2 == 0 else (p.casefold(),) * 3 for i, p in enumerate(parts)]
    plain, skeletal, lowered = ("".join(k[n] for k in keys) for n in range(3))
    return plain, skeletal, lowered


def denied_by(name: str, patterns: Sequence[str]) -> list[str]:
    """The deny patterns that hit ``name`` (folded, or as its skeleton), in order."""
    if not patterns:
        return []
    keys = _keys(fold(name))
    return [
        pattern
        for pattern in patterns
        if any(fnmatchcase(k, p) for k, p in zip(keys, _pattern_keys(pattern), strict=True))
    ]


def allowed_by(name: str, patterns: Sequence[str]) -> bool:
    """Whether the folded ``name`` matches one allow pattern exactly."""
    folded = fold(name)
    return any(fnmatchcase(folded, fold(pattern)) for pattern in patterns)


def name_signs(name: str) -> list[str]:
    """Signs that a name imitates another: mixed scripts, characters posing as ASCII."""
    folded = fold(name)
    if folded.isascii():
        return []
    signs = []
    scripts = mixed_scripts(folded)
    if scripts:
        signs.append(f"mixed scripts ({', '.join(scripts)})")
    lookalikes = ascii_lookalikes(folded)
    if lookalikes:
        listed = ", ".join(f"U+{cp:04X}" for cp in lookalikes[:_LISTED])
        more = len(lookalikes) - _LISTED
        signs.append(
            f"characters posing as ASCII ({listed}{f' and {more} more' if more > 0 else ''})"
        )
    return signs
