"""Tool guardrails: shape, name patterns, annotations against policy, and poisoning.

Tools come from untrusted upstreams (or from config) as MCP wire-shaped JSON. A
tool that is not a well-formed object is blocked as malformed, never raised on.
Every reason that applies is listed, not just the first.

Choices a reader may look for:

- Name patterns are ``fnmatch`` globs matched on the folded name (``names``): deny
  patterns case-insensitively and also on the UTS #39 skeleton, so ``Delete_Repo``,
  ``dele\\u00adte_repo`` or ``dеlete_repo`` (Cyrillic ``е``) cannot slip past
  ``delete_*``; allow patterns exactly. Both lean toward blocking. A name that mixes
  scripts or has characters posing as ASCII is a poisoning sign (``poisoning`` policy).
- Annotations follow the MCP defaults: ``destructiveHint`` defaults to true and only
  means something when ``readOnlyHint`` is not true, so a tool is treated as
  destructive unless ``destructiveHint`` is false or ``readOnlyHint`` is true with no
  ``destructiveHint`` at all. A tool claiming both read-only and destructive is taken
  at its worse word. ``openWorldHint`` defaults to true. A hint that is not a boolean
  counts as absent (so its default applies).
- Duplicate names: every definition is blocked. A client calls a tool by name and
  cannot know which definition it gets; the second may shadow a reviewed first.
- ``inputSchema`` may be absent (config tools often omit it); present, it must be an
  object. ``_meta`` and icons are not scanned: clients do not show them to the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ...models import BlockedTool, JSONObject, ToolPolicy
from .names import allowed_by, denied_by, name_signs
from .poisoning import DEFAULT_LIMITS, Finding, Limits, scan_fields

MAX_NAME_LENGTH = 256  # MCP asks for 1-128; past this a name is hostile, not a style slip
MAX_POISONING_REASONS = 20  # listed per tool; a hostile schema could yield thousands
_SHOWN_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ToolVerdict:
    """The tools to serve, the tools removed, and poisoning signs reported but not enforced."""

    kept: tuple[JSONObject, ...]
    blocked: tuple[BlockedTool, ...]
    warnings: tuple[BlockedTool, ...] = ()  # poisoning findings under policy "report"


def check_tools(
    tools: Sequence[object], policy: ToolPolicy, limits: Limits = DEFAULT_LIMITS
) -> ToolVerdict:
    """Split tools into kept and blocked (with reasons) by the policy; never raises on input."""
    counts = Counter(
        t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)
    )
    kept: list[JSONObject] = []
    blocked: list[BlockedTool] = []
    warnings: list[BlockedTool] = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            blocked.append(BlockedTool(_unnamed(index), ("malformed: tool is not an object",)))
            continue
        label, reasons = _shape(tool, index, counts)
        name = tool.get("name")
        if isinstance(name, str) and name.strip():
            reasons.extend(_name_reasons(name, policy))
        reasons.extend(_annotation_reasons(tool.get("annotations"), policy))
        poisoning = _poisoning_reasons(tool, policy, limits)
        if policy.poisoning == "report":
            if poisoning:
                warnings.append(BlockedTool(label, tuple(poisoning)))
        else:
            reasons.extend(poisoning)
        if reasons:
            blocked.append(BlockedTool(label, tuple(reasons)))
        else:
            kept.append(tool)
    return ToolVerdict(tuple(kept), tuple(blocked), tuple(warnings))


def blocked_reasons(blocked: Sequence[BlockedTool]) -> list[str]:
    """Every reason of every blocked tool, flat, each once, in first-seen order."""
    return list(dict.fromkeys(reason for tool in blocked for reason in tool.reasons))


def _unnamed(index: int) -> str:
    return f"<tool at index {index}>"


def _shape(tool: Mapping[str, object], index: int, counts: Counter[str]) -> tuple[str, list[str]]:
    """A label to report the tool under, and what is malformed about it."""
    reasons: list[str] = []
    name = tool.get("name")
    label = _unnamed(index)
    if name is None:
        reasons.append("malformed: tool has no name")
    elif not isinstance(name, str):
        reasons.append("malformed: name is not a string")
    elif not name.strip():
        reasons.append("malformed: name is empty")
    else:
        label = name if len(name) <= _SHOWN_NAME_LENGTH else name[:_SHOWN_NAME_LENGTH] + "..."
        if len(name) > MAX_NAME_LENGTH:
            reasons.append(f"malformed: name is longer than {MAX_NAME_LENGTH} characters")
        if counts[name] > 1:
            reasons.append(f"malformed: duplicate tool name ({counts[name]} definitions)")
    for key in ("title", "description"):
        value = tool.get(key)
        if value is not None and not isinstance(value, str):
            reasons.append(f"malformed: {key} is not a string")
    for key in ("inputSchema", "outputSchema", "annotations"):
        value = tool.get(key)
        if value is not None and not isinstance(value, dict):
            reasons.append(f"malformed: {key} is not an object")
    return label, reasons


def _name_reasons(name: str, policy: ToolPolicy) -> list[str]:
    denied = denied_by(name, policy.denied_tools)
    own_reasons = dict(policy.deny_reasons) if denied else {}
    reasons = [
        f"{own_reasons[p]} (denied by pattern '{p}')"
        if own_reasons.get(p)
        else f"denied by pattern '{p}'"
        for p in denied
    ]
    if policy.allowed_tools and not allowed_by(name, policy.allowed_tools):
        reasons.append("not matched by any allowed pattern")
    return reasons


def _hint(annotations: Mapping[str, object], key: str) -> bool | None:
    value = annotations.get(key)
    return value if isinstance(value, bool) else None


def _annotation_reasons(annotations: object, policy: ToolPolicy) -> list[str]:
    hints: Mapping[str, object] = annotations if isinstance(annotations, dict) else {}
    reasons: list[str] = []
    if policy.block_destructive:
        destructive = _hint(hints, "destructiveHint")
        read_only = _hint(hints, "readOnlyHint")
        if destructive is True:
            reasons.append("destructive tool (destructiveHint) not allowed by policy")
        elif destructive is None and read_only is not True:
            reasons.append(
                "possibly destructive tool (destructiveHint not set, spec default true) "
                "not allowed by policy"
            )
    if policy.block_open_world:
        open_world = _hint(hints, "openWorldHint")
        if open_world is True:
            reasons.append("open-world tool (openWorldHint) not allowed by policy")
        elif open_world is None:
            reasons.append(
                "possibly open-world tool (openWorldHint not set, spec default true) "
                "not allowed by policy"
            )
    return reasons


def _poisoning_reasons(tool: Mapping[str, object], policy: ToolPolicy, limits: Limits) -> list[str]:
    if policy.poisoning == "off":
        return []
    findings = scan_fields(_poisoning_fields(tool), limits)
    name = tool.get("name")
    if isinstance(name, str):
        findings[:0] = [Finding(sign, "name") for sign in name_signs(name)]
    if not findings:
        return []
    return _capped([f for f in findings if not f.incomplete]) + [
        f.reason for f in findings if f.incomplete
    ]


def _poisoning_fields(tool: Mapping[str, object]) -> list[tuple[str, object]]:
    """The values a model reads of a tool, by place: what the poisoning scan looks at."""
    fields: list[tuple[str, object]] = [
        (key, tool[key])
        for key in ("name", "title", "description", "inputSchema", "outputSchema")
        if key in tool
    ]
    annotations = tool.get("annotations")
    if isinstance(annotations, dict) and "title" in annotations:
        fields.append(("annotations.title", annotations["title"]))
    return fields


def _capped(findings: list[Finding]) -> list[str]:
    reasons = list(dict.fromkeys(f.reason for f in findings))
    if len(reasons) <= MAX_POISONING_REASONS:
        return reasons
    rest = len(reasons) - (MAX_POISONING_REASONS - 1)
    return reasons[: MAX_POISONING_REASONS - 1] + [f"tool poisoning: {rest} more findings"]
