"""Durations and byte sizes as people write them."""

from __future__ import annotations

import re

import pytest

from mcp_discoveryd.config.durations import format_duration, parse_duration
from mcp_discoveryd.config.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4h", 14400.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("500ms", 0.5),
        ("2d", 172800.0),
        ("1.5h", 5400.0),
        ("1m30s250ms", 90.25),
        ("90", 90.0),
        ("0.25", 0.25),
        (90, 90.0),
        (2.5, 2.5),
        ("0s", 0.0),
    ],
)
def test_parse_duration_reads_units_and_bare_seconds(text: object, seconds: float) -> None:
    """Every unit (ms, s, m, h, d), combinations and bare numbers (seconds) are read exactly."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("4x", "bad duration '4x'"),
        ("", "empty duration"),
        ("h", "bad duration 'h'"),
        ("1h1h", "unit 'h' given twice"),
        ("-5s", "must not be negative"),
        (-1, "must not be negative"),
        ("4 hours", "bad duration '4 hours'"),
        ("inf", "not a finite number"),
        (True, "got a boolean"),
        ([1], "got list"),
    ],
)
def test_parse_duration_rejects_nonsense_with_a_clear_reason(text: object, says: str) -> None:
    """A bad duration raises ValueError that names the value and what to write instead."""
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_duration(text)


def test_bad_duration_message_shows_how_to_write_one() -> None:
    """The message teaches the grammar with examples."""
    with pytest.raises(ValueError, match=r"ms, s, m, h, d.*'1h30m'"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(14400, "4h"), (5400, "1h30m"), (0.5, "500ms"), (90061.5, "1d1h1m1s500ms"), (0, "0s")],
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    """Formatting gives the shortest exact spelling, which parses back to the same value."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1024, 1024),
        ("2048", 2048),
        ("256MiB", 256 * 1024**2),
        ("8MB", 8_000_000),
        ("1.5 KiB", 1536),
        ("1gib", 1024**3),
    ],
)
def test_parse_size_reads_decimal_and_binary_units(text: object, size: int) -> None:
    """Bare integers are bytes; KB/MB/GB are decimal and KiB/MiB/GiB binary, any case."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "5 parsecs", "-1", -1, True, 1.5])
def test_parse_size_rejects_nonsense(text: object) -> None:
    """Anything else is a ValueError naming the accepted units or the sign."""
    with pytest.raises(ValueError, match="size"):
        parse_size(text)
