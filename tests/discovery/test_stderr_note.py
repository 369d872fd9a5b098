"""The most telling stderr line: generated tails of noise, boilerplate, errors and tracebacks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.discovery.stderr_note import telling_line

NOISE = st.sampled_from(
    [
        "starting server",
        "listening on stdio",
        "npm warn deprecated glob@7",
        "Downloading 3 packages",
    ]
)
BOILERPLATE = st.sampled_from(
    [
        "npm error code E404",
        "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log",
        "npm error",
        "For more information, run with --verbose",
    ]
)
ERRORS = st.sampled_from(
    [
        "npm error 404 Not Found - GET https://registry.example/x - Not found",
        "Error: Cannot find module '/app/index.js'",
        "fatal: not a git repository",
        "ModuleNotFoundError: No module named 'x'",
        "error: unauthorized (401)",
    ]
)
EXCEPTION_LINES = st.sampled_from(
    ["ValueError: bad config", "KeyError: 'API_KEY'", "mcp.MCPError: nope"]
)


@given(st.lists(st.text(max_size=40), max_size=20))
def test_the_note_is_one_of_the_lines_or_none_when_all_are_blank(lines: list[str]) -> None:
    found = telling_line(lines)
    kept = [line.rstrip() for line in lines if line.strip()]
    assert (found is None) == (not kept)
    assert found is None or found in kept


@given(st.lists(NOISE | BOILERPLATE, max_size=8), ERRORS, st.lists(NOISE | BOILERPLATE | ERRORS))
def test_the_first_error_line_wins_over_noise_and_boilerplate(
    before: list[str], error: str, after: list[str]
) -> None:
    assert telling_line([*before, error, *after]) == error


@given(
    st.lists(NOISE | ERRORS, max_size=5),
    st.lists(st.sampled_from(['  File "/app/x.py", line 3, in <module>', "    raise Error()"])),
    EXCEPTION_LINES,
    st.lists(NOISE | BOILERPLATE, max_size=3),
)
def test_a_tracebacks_exception_line_wins(
    before: list[str], frames: list[str], exception: str, after: list[str]
) -> None:
    lines = [*before, "Traceback (most recent call last):", *frames, exception, *after]
    assert telling_line(lines) == exception


@given(st.lists(NOISE, min_size=1, max_size=6))
def test_without_an_error_the_last_line_is_kept(lines: list[str]) -> None:
    assert telling_line(lines) == lines[-1]
