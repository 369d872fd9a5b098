"""The poisoning scan as it was before it was made cheaper: the oracle the fast one must equal.

Kept as written then (one search of the whole pattern set per variant, an eager location
and a tuple for every value), over the module's own pattern tables, so a test can
compare findings, their order and locations, and the budget left, on any input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice

from mcp_discoveryd.discovery.guardrails.names import name_signs
from mcp_discoveryd.discovery.guardrails.normalise import fold, removed, spaced, unconfuse
from mcp_discoveryd.discovery.guardrails.poisoning import (  # unchanged by the fast scan
    DEFAULT_LIMITS,
    Budget,
    Finding,
    Limits,
    display_key,
)
from mcp_discoveryd.discovery.guardrails.textscan import (
    _ANY_SIGN_RE,
    _INSTRUCTION_RES,
    _hidden_sign,
    _tag_signs,
)
from mcp_discoveryd.discovery.guardrails.tools import _capped, _poisoning_fields
from mcp_discoveryd.models import ToolPolicy


def scan_text(text: str) -> list[str]:
    """Every poisoning sign in one string, each once."""
    dropped = removed(text)
    signs: dict[str, None] = {}
    hidden = _hidden_sign(dropped)
    if hidden:
        signs[hidden] = None
    if text.isascii() and not dropped:
        variants: tuple[str, ...] = (text,)
    else:
        folded = (fold(text), spaced(text)) if dropped else (fold(text),)
        variants = tuple(map(unconfuse, folded))
    for variant in variants:
        if _ANY_SIGN_RE.search(variant):
            signs.update(dict.fromkeys(_tag_signs(variant)))
            signs.update(
                dict.fromkeys(sign for sign, pattern in _INSTRUCTION_RES if pattern.search(variant))
            )
    return list(signs)


def scan_value(value: object, location: str, budget: Budget) -> list[Finding]:
    """Every string and key inside a JSON value scanned, depth first, within the budget."""
    findings: list[Finding] = []
    stack: list[tuple[object, str, int, object]] = [(value, location, 0, None)]
    depth_reported = False
    while stack:
        node, where, depth, key = stack.pop()
        if not budget.take_node(where):
            break
        if isinstance(key, str):
            text = budget.take_text(key, where)
            findings.extend(Finding(s, f"key {where}") for s in scan_text(text))
        if isinstance(node, str):
            findings.extend(Finding(s, where) for s in scan_text(budget.take_text(node, where)))
            continue
        if not isinstance(node, Mapping | list | tuple):
            continue
        if depth >= budget.limits.max_depth:
            if not depth_reported:
                detail = f"nests deeper than {budget.limits.max_depth} levels"
                findings.append(Finding(detail, where, incomplete=True))
                depth_reported = True
            continue
        room = budget.nodes + 1
        if isinstance(node, Mapping):
            children = [
                (child, f"{where}.{display_key(k)}", depth + 1, k)
                for k, child in islice(node.items(), room)
            ]
        else:
            children = [
                (child, f"{where}[{i}]", depth + 1, None)
                for i, child in enumerate(islice(node, room))
            ]
        stack.extend(reversed(children))
    return findings


def scan_fields(
    fields: Iterable[tuple[str, object]], limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    """Named values scanned under one budget, its exhaustion last."""
    budget = Budget(limits)
    findings: list[Finding] = []
    for location, value in fields:
        findings.extend(scan_value(value, location, budget))
    if budget.exhausted is not None:
        findings.append(budget.exhausted)
    return findings


def poisoning_reasons(tool: Mapping[str, object], policy: ToolPolicy, limits: Limits) -> list[str]:
    """A tool's poisoning reasons as ``tools`` listed them, over the plain scan."""
    if policy.poisoning == "off":
        return []
    findings = scan_fields(_poisoning_fields(tool), limits)  # the places: unchanged, shared
    name = tool.get("name")
    if isinstance(name, str):
        findings[:0] = [Finding(sign, "name") for sign in name_signs(name)]
    return _capped([f for f in findings if not f.incomplete]) + [
        f.reason for f in findings if f.incomplete
    ]
