"""Tool guardrails: malformed shapes, name patterns, annotations, the verdict and its reasons."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mcp_discoveryd.discovery.guardrails import ToolVerdict, blocked_reasons, check_tools
from mcp_discoveryd.models import BlockedTool, ToolPolicy

from .tools_support import (
    DEFAULT,
    DESTRUCTIVE,
    MAYBE_DESTRUCTIVE,
    MAYBE_OPEN_WORLD,
    OPEN_WORLD,
    reasons_of,
    tool,
)


def test_clean_tools_are_kept_as_the_same_objects_in_order() -> None:
    """Clean tools pass untouched (same dicts, same order); nothing blocked or warned."""
    tools = [tool("a"), tool("b", title="B", outputSchema={"type": "object"}), tool("c")]
    verdict = check_tools(tools, DEFAULT)
    assert verdict.kept == tuple(tools)
    assert all(k is t for k, t in zip(verdict.kept, tools, strict=True))
    assert verdict.blocked == () and verdict.warnings == ()


def test_an_empty_listing_is_fine() -> None:
    """No tools yields an empty verdict."""
    assert check_tools([], DEFAULT) == ToolVerdict((), (), ())


def test_a_tool_without_input_schema_or_description_is_kept() -> None:
    """Config tools often omit the schema and description; absent fields are not malformed."""
    verdict = check_tools([{"name": "ping"}, {"name": "pong", "description": None}], DEFAULT)
    assert [t["name"] for t in verdict.kept] == ["ping", "pong"]


@pytest.mark.parametrize(
    ("item", "label", "reason"),
    [
        (None, "<tool at index 0>", "malformed: tool is not an object"),
        ("search", "<tool at index 0>", "malformed: tool is not an object"),
        (["search"], "<tool at index 0>", "malformed: tool is not an object"),
        (42, "<tool at index 0>", "malformed: tool is not an object"),
        ({"description": "x"}, "<tool at index 0>", "malformed: tool has no name"),
        ({"name": None}, "<tool at index 0>", "malformed: tool has no name"),
        ({"name": 7}, "<tool at index 0>", "malformed: name is not a string"),
        ({"name": ["a"]}, "<tool at index 0>", "malformed: name is not a string"),
        ({"name": "  "}, "<tool at index 0>", "malformed: name is empty"),
        (tool(inputSchema="{}"), "search", "malformed: inputSchema is not an object"),
        (tool(inputSchema=[]), "search", "malformed: inputSchema is not an object"),
        (tool(outputSchema=1), "search", "malformed: outputSchema is not an object"),
        (tool(annotations=True), "search", "malformed: annotations is not an object"),
        (tool(description=["x"]), "search", "malformed: description is not a string"),
        (tool(title={"x": 1}), "search", "malformed: title is not a string"),
    ],
)
def test_malformed_tools_are_blocked_with_a_reason(item: object, label: str, reason: str) -> None:
    """Every kind of malformed tool is blocked with a clear reason, never an exception."""
    verdict = check_tools([item], DEFAULT)
    assert verdict.kept == ()
    assert verdict.blocked == (BlockedTool(label, (reason,)),)


def test_a_lying_listing_never_raises_and_keeps_the_good_tools() -> None:
    """A listing mixing garbage with good tools keeps the good ones and labels the rest by index."""
    listing: list[object] = [tool("good"), None, {"name": 3}, tool("fine"), {"name": {}}]
    verdict = check_tools(listing, DEFAULT)
    assert [t["name"] for t in verdict.kept] == ["good", "fine"]
    assert [b.name for b in verdict.blocked] == [
        "<tool at index 1>",
        "<tool at index 2>",
        "<tool at index 4>",
    ]


def test_duplicate_names_block_every_definition() -> None:
    """Two definitions under one name are both blocked: a caller cannot tell which it gets."""
    listing = [tool("run", "Run it."), tool("other"), tool("run", "Run it, differently.")]
    verdict = check_tools(listing, DEFAULT)
    assert [t["name"] for t in verdict.kept] == ["other"]
    assert verdict.blocked == (
        BlockedTool("run", ("malformed: duplicate tool name (2 definitions)",)),
        BlockedTool("run", ("malformed: duplicate tool name (2 definitions)",)),
    )


def test_an_overlong_name_is_blocked_and_shown_shortened() -> None:
    """A name past 256 characters is malformed; the report shows a 64-character prefix."""
    verdict = check_tools([tool("x" * 300)], DEFAULT)
    assert verdict.blocked == (
        BlockedTool("x" * 64 + "...", ("malformed: name is longer than 256 characters",)),
    )
    assert check_tools([tool("x" * 256)], DEFAULT).kept  # the limit itself is allowed


def test_denied_patterns_block_matching_names() -> None:
    """A deny glob blocks matching names and names the pattern in the reason."""
    policy = ToolPolicy(denied_tools=("delete_*", "drop_table"))
    verdict = check_tools([tool("delete_repo"), tool("drop_table"), tool("list_repos")], policy)
    assert [t["name"] for t in verdict.kept] == ["list_repos"]
    assert reasons_of(verdict) == {
        "delete_repo": ("denied by pattern 'delete_*'",),
        "drop_table": ("denied by pattern 'drop_table'",),
    }


def test_deny_patterns_cannot_be_dodged_by_case_or_hidden_characters() -> None:
    """Deny matching ignores case and hidden characters (poisoning off shows it is the deny)."""
    policy = ToolPolicy(denied_tools=("delete_*",), poisoning="off")
    listing = [
        tool("Delete_Repo"),
        tool("DELETE_ALL"),
        tool("dele\u200bte_repo"),
        tool("ｄｅｌｅｔｅ_x"),
    ]
    verdict = check_tools(listing, policy)
    assert verdict.kept == ()
    assert all(b.reasons == ("denied by pattern 'delete_*'",) for b in verdict.blocked)


def test_allowed_patterns_keep_only_exact_case_matches() -> None:
    """With an allow list, only names matching a pattern exactly (case-sensitive) are kept."""
    policy = ToolPolicy(allowed_tools=("get_*", "search"))
    listing = [tool("get_user"), tool("search"), tool("Get_user"), tool("delete_user")]
    verdict = check_tools(listing, policy)
    assert [t["name"] for t in verdict.kept] == ["get_user", "search"]
    assert reasons_of(verdict) == {
        "Get_user": ("not matched by any allowed pattern",),
        "delete_user": ("not matched by any allowed pattern",),
    }


def test_deny_wins_over_allow_and_both_reasons_show() -> None:
    """A name both allowed and denied is blocked; a name neither allowed nor denied-list says so."""
    policy = ToolPolicy(allowed_tools=("get_*",), denied_tools=("*secret*",))
    verdict = check_tools([tool("get_secret"), tool("put_secret")], policy)
    assert reasons_of(verdict) == {
        "get_secret": ("denied by pattern '*secret*'",),
        "put_secret": ("denied by pattern '*secret*'", "not matched by any allowed pattern"),
    }


@pytest.mark.parametrize(
    ("annotations", "reason"),
    [
        (None, MAYBE_DESTRUCTIVE),
        ({}, MAYBE_DESTRUCTIVE),
        ({"readOnlyHint": False}, MAYBE_DESTRUCTIVE),
        ({"destructiveHint": True}, DESTRUCTIVE),
        ({"readOnlyHint": False, "destructiveHint": True}, DESTRUCTIVE),
        ({"readOnlyHint": True, "destructiveHint": True}, DESTRUCTIVE),  # taken at its worse word
        ({"destructiveHint": "false"}, MAYBE_DESTRUCTIVE),  # not a boolean: the default applies
        ({"readOnlyHint": True}, None),
        ({"readOnlyHint": True, "destructiveHint": False}, None),
        ({"destructiveHint": False}, None),
        ({"readOnlyHint": False, "destructiveHint": False}, None),
    ],
)
def test_block_destructive_follows_the_spec_defaults(
    annotations: dict[str, Any] | None, reason: str | None
) -> None:
    """destructiveHint defaults to true unless readOnlyHint is true; explicit true always counts."""
    item = tool() if annotations is None else tool(annotations=annotations)
    verdict = check_tools([item], ToolPolicy(block_destructive=True))
    if reason is None:
        assert verdict.kept == (item,) and verdict.blocked == ()
    else:
        assert verdict.blocked == (BlockedTool("search", (reason,)),)


@pytest.mark.parametrize(
    ("annotations", "reason"),
    [
        (None, MAYBE_OPEN_WORLD),
        ({"readOnlyHint": True}, MAYBE_OPEN_WORLD),
        ({"openWorldHint": True}, OPEN_WORLD),
        ({"openWorldHint": 0}, MAYBE_OPEN_WORLD),
        ({"openWorldHint": False}, None),
    ],
)
def test_block_open_world_follows_the_spec_default(
    annotations: dict[str, Any] | None, reason: str | None
) -> None:
    """openWorldHint defaults to true; only an explicit false passes the policy."""
    item = tool() if annotations is None else tool(annotations=annotations)
    verdict = check_tools([item], ToolPolicy(block_open_world=True))
    expected = () if reason is None else (BlockedTool("search", (reason,)),)
    assert verdict.blocked == expected


def test_annotations_are_ignored_when_the_policy_allows_them() -> None:
    """With the default policy a destructive, open-world tool is served."""
    item = tool(annotations={"destructiveHint": True, "openWorldHint": True})
    assert check_tools([item], DEFAULT).kept == (item,)


def test_blocked_reasons_is_flat_deduplicated_and_ordered() -> None:
    """blocked_reasons flattens every tool's reasons, each once, in first-seen order."""
    blocked = [
        BlockedTool("a", ("denied by pattern 'a*'", "x")),
        BlockedTool("b", ("x", "denied by pattern 'a*'", "y")),
    ]
    assert blocked_reasons(blocked) == ["denied by pattern 'a*'", "x", "y"]
    assert blocked_reasons([]) == []


def test_verdict_is_frozen() -> None:
    """A verdict is a value: it cannot be changed after the fact."""
    verdict = check_tools([tool()], DEFAULT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.kept = ()  # type: ignore[misc]
