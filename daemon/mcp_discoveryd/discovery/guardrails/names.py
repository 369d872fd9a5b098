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


@lru_cache(maxsize=4096)
def _pattern_keys(pattern: str) -> tuple[str, str]:
    folded = fold(pattern)
    # Skeleton outside character classes only: "[a-m]" must not become "[a-rn]".
    parts = _BRACKET.split(folded)
    skeletal = "".join(p if i % 2 else skeleton(p) for i, p in enumerate(parts))
    return folded.casefold(), skeletal.casefold()


def denied_by(name: str, patterns: Sequence[str]) -> list[str]:
    """The deny patterns that hit ``name`` (folded or as its skeleton), in order."""
    if not patterns:
        return []
    folded = fold(name)
    plain, skeletal = folded.casefold(), skeleton(folded).casefold()
    hits = []
    for pattern in patterns:
        plain_pattern, skeletal_pattern = _pattern_keys(pattern)
        if fnmatchcase(plain, plain_pattern) or fnmatchcase(skeletal, skeletal_pattern):
            hits.append(pattern)
    return hits


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
