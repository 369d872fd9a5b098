"""Byte sizes as people write them: "256MiB", "8MB", "512KiB"; bare integers are bytes."""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.ASCII)
_HINT = "write bytes or a number and a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. '256MiB'"


def parse_size(value: object) -> int:
    """Bytes from a size string or an integer; ValueError says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(  # noqa: TRY004 -- pydantic reports ValueError only
            f"expected a size, got a boolean: {_HINT}"
        )
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            size = int(text)
        else:
            match = _SIZE.fullmatch(text.lower())
            if match is None or match.group(2) not in UNITS:
                raise ValueError(f"bad size {value!r}: {_HINT}")
            size = round(float(match.group(1)) * UNITS[match.group(2)])
    else:
        raise ValueError(  # noqa: TRY004 -- pydantic reports ValueError only
            f"expected a size, got {type(value).__name__}: {_HINT}"
        )
    if size < 0:
        raise ValueError(f"bad size {value!r}: must not be negative")
    return size
