"""Annotated field types shared by the settings models and the file tables."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from .durations import parse_duration
from .redis_url import check_sentinel
from .sizes import parse_size


def check_glob(pattern: str) -> str:
    """A name glob (``*``, ``?``, ``[abc]``); ValueError for one that cannot be meant."""
    if not pattern.strip():
        raise ValueError("empty pattern")
    opened = pattern.find("[")
    if opened >= 0 and pattern.find("]", opened + 2) < 0:
        raise ValueError(f"bad glob {pattern!r}: '[' without a closing ']'")
    return pattern


Glob = Annotated[str, AfterValidator(check_glob)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Sentinel = Annotated[str, AfterValidator(check_sentinel)]
