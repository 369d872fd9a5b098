"""Durations as people write them: "4h", "90s", "1h30m", "500ms", "2d"; bare numbers are seconds."""

from __future__ import annotations

import math
import re

UNITS: dict[str, float] = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

# One part: a number then a unit ("ms" before "m" so that "500ms" is not "500m" + "s").
_PART = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|d|h|m|s)", re.ASCII)
_HINT = "write a number and a unit (ms, s, m, h, d), e.g. '90s', '4h' or '1h30m'"


def parse_duration(value: object) -> float:
    """Seconds from a duration string or a number of seconds; ValueError says what is wrong."""
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a duration
        raise ValueError(  # noqa: TRY004 -- pydantic reports ValueError only
            f"expected a duration, got a boolean: {_HINT}"
        )
    if isinstance(value, int | float):
        return _checked(float(value), value)
    if not isinstance(value, str):
        raise ValueError(  # noqa: TRY004 -- pydantic reports ValueError only
            f"expected a duration, got {type(value).__name__}: {_HINT}"
        )
    text = value.strip()
    if not text:
        raise ValueError(f"empty duration: {_HINT}")
    try:
        seconds = float(text)  # "90" and "1.5" are seconds
    except ValueError:
        pass
    else:
        return _checked(seconds, value)
    if text.startswith("-"):
        raise ValueError(f"bad duration {value!r}: must not be negative")
    total = 0.0
    seen: set[str] = set()
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise ValueError(f"bad duration {value!r}: {_HINT}")
        number, unit = match.groups()
        if unit in seen:
            raise ValueError(f"bad duration {value!r}: unit {unit!r} given twice")
        seen.add(unit)
        total += float(number) * UNITS[unit]
        pos = match.end()
    return _checked(total, value)


def _checked(seconds: float, original: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"bad duration {original!r}: not a finite number")
    if seconds < 0:
        raise ValueError(f"bad duration {original!r}: must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration: 14400 -> "4h", 5400 -> "1h30m", 0.5 -> "500ms"."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"cannot format duration {seconds!r}")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)
