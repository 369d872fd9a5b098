"""Name patterns on folded names and skeletons; names that imitate others are signs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_discoveryd.discovery.guardrails import check_server, check_tools
from mcp_discoveryd.discovery.guardrails.names import allowed_by, denied_by, name_signs
from mcp_discoveryd.models import ServerPolicy, ServerSpec, StdioTarget, ToolPolicy

from .tricks import name_key, name_lookalikes, with_invisibles, with_lookalikes

IDENTIFIER = st.from_regex(r"[a-z][a-z0-9]{2,10}(_[a-z0-9]{1,10}){0,2}", fullmatch=True)
ASCII_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,40}", fullmatch=True)


def tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Does one thing.", **extra}


@pytest.mark.parametrize(
    "name",
    [
        "delete\u00ad_repo",  # soft hyphen
        "dеlete_repo",  # Cyrillic е
        "DЕLETE_REPO",  # Cyrillic capital Е
        "ｄｅｌｅｔｅ_repo",  # full-width
        "de\u2800lete_repo",  # braille blank
        "delete\U000e0041_repo",  # tag character
    ],
)
def test_a_deny_glob_cannot_be_dodged_by_one_character(name: str) -> None:
    """Invisible, full-width and look-alike characters all still hit ``delete_*``."""
    policy = ToolPolicy(denied_tools=("delete_*",), poisoning="off")
    (blocked,) = check_tools([tool(name)], policy).blocked
    assert blocked.reasons == ("denied by pattern 'delete_*'",)


def test_an_allow_list_never_admits_a_look_alike_of_an_allowed_name() -> None:
    """The skeleton only widens deny lists: ``rеad_file`` (Cyrillic е) is not ``read_*``."""
    assert allowed_by("read_file", ["read_*"])
    assert allowed_by("read\u200b_file", ["read_*"])  # hidden char: flagged by poisoning instead
    assert not allowed_by("rеad_file", ["read_*"])
    assert not allowed_by("Read_file", ["read_*"])


def test_glob_character_classes_are_kept_as_written() -> None:
    """A skeleton is not applied inside ``[...]``: ``[a-m]`` stays a range."""
    assert denied_by("get_k", ["get_[a-m]"]) == ["get_[a-m]"]
    assert denied_by("get_z", ["get_[a-m]"]) == []


@pytest.mark.parametrize(
    ("name", "sign"),
    [
        ("dеlete_repo", "mixed scripts (Cyrl, Latn)"),
        ("dеlete_repo", "characters posing as ASCII (U+0435)"),
        ("рау", "characters posing as ASCII (U+0440, U+0430, U+0443)"),
    ],
)
def test_names_that_imitate_others_are_poisoning_signs(name: str, sign: str) -> None:
    """Mixed scripts and letters posing as ASCII block under the poisoning policy."""
    (blocked,) = check_tools([tool(name)], ToolPolicy()).blocked
    assert f"tool poisoning: {sign} in name" in blocked.reasons
    kept = check_tools([tool(name)], ToolPolicy(poisoning="report"))
    assert kept.kept and kept.warnings


@pytest.mark.parametrize("name", ["café_lookup", "データ取得", "get_天気", "날씨", "naïve_search"])
def test_names_in_one_script_or_an_allowed_mix_are_not_signs(name: str) -> None:
    """Accents, Japanese, Korean and Latin beside CJK are ordinary names."""
    assert name_signs(name) == []


@given(IDENTIFIER, st.booleans(), st.booleans(), st.data())
def test_generated_tricks_on_denied_names_are_still_denied(
    name: str, prefix: bool, upper: bool, data: st.DataObject
) -> None:
    """Invisible insertions and look-alike substitutions never get a name past its deny glob."""
    pattern = name[: max(3, len(name) // 2)] + "*" if prefix else name
    name = name.upper() if upper else name
    trick = data.draw(
        st.one_of(
            with_invisibles(name),
            with_lookalikes(name, name_lookalikes(), name_key),
            with_lookalikes(name, name_lookalikes(), name_key).flatmap(with_invisibles),
        )
    )
    assert denied_by(trick, [pattern]) == [pattern]


@given(ASCII_NAME)
def test_plain_ascii_names_raise_no_name_sign(name: str) -> None:
    """No generated ASCII identifier is a mixed-script or look-alike name, nor blocked."""
    assert name_signs(name) == []
    assert check_tools([tool(name, annotations={"readOnlyHint": True})], ToolPolicy()).blocked == ()


@pytest.mark.parametrize("command", ["/usr/bin/ba\u00adsh", "ｂａｓｈ", "bаsh", "/bin/BASH"])
def test_command_deny_globs_match_folded_names_and_skeletons(command: str) -> None:
    """A denied shell with a soft hyphen, full-width or Cyrillic letters is still denied."""
    spec = ServerSpec(
        "s", StdioTarget(command), server_policy=ServerPolicy(denied_commands=("bash",))
    )
    assert any("denied by pattern 'bash'" in v for v in check_server(spec))


def test_command_allow_globs_do_not_admit_look_alikes() -> None:
    """``nоde`` (Cyrillic о) is not the allowed ``node``."""
    policy = ServerPolicy(allowed_commands=("node",))
    assert check_server(ServerSpec("s", StdioTarget("node"), server_policy=policy)) == ()
    spec = ServerSpec("s", StdioTarget("nоde"), server_policy=policy)
    assert check_server(spec) == ("command 'nоde' not matched by any allowed pattern",)
