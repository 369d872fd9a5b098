"""Tool-poisoning detectors: text a tool shows the model that aims to hijack it.

``scan_text`` (``textscan``) looks at one string; ``scan_value`` walks a JSON value (a schema)
and scans every string in it, keys included, within a shared ``Budget`` so a
hostile schema cannot make the check slow. The detectors aim at signs an honest
tool never needs (hidden characters, fake system tags, orders to ignore earlier
instructions, to hide things from the user or to read credential files), not
at every sentence that speaks to the model: "Important: returns at most 100
rows" and "Ignore case when matching" are ordinary descriptions and pass.

Each sign is a short, stable phrase (``Finding.sign``); the matched text itself
is never echoed, so a reason can be shown to a person and grouped by a dashboard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .textscan import scan_text

__all__ = [
    "DEFAULT_LIMITS",
    "Budget",
    "Finding",
    "Limits",
    "display_key",
    "scan_fields",
    "scan_text",
    "scan_value",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work one tool's scan may do; past them the check reports itself incomplete."""

    max_depth: int = 64  # nesting levels inside one schema
    max_nodes: int = 20_000  # JSON values visited per tool
    max_chars: int = 262_144  # characters scanned per tool (honest tools use a few thousand)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Finding:
    """One poisoning sign at one place in a tool (``incomplete``: a limit stopped the scan)."""

    sign: str
    location: str
    incomplete: bool = False

    @property
    def reason(self) -> str:
        if self.incomplete:
            return f"tool poisoning check incomplete: {self.location} {self.sign}"
        return f"tool poisoning: {self.sign} in {self.location}"


class Budget:
    """The work left for one tool's scan, shared by all its fields."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.nodes = limits.max_nodes
        self.chars = limits.max_chars
        self.exhausted: Finding | None = None

    def take_node(self, location: str) -> bool:
        """Count one visited value; False once the budget is spent (noted once in ``exhausted``)."""
        if self.exhausted is not None:
            return False
        if self.nodes <= 0:
            self._exhaust(location, f"has more than {self.limits.max_nodes} values")
            return False
        self.nodes -= 1
        return True

    def take_text(self, text: str, location: str) -> str:
        """The part of ``text`` the budget still allows scanning."""
        if len(text) > self.chars:
            self._exhaust(location, f"exceeds {self.limits.max_chars} characters of text")
            text = text[: max(self.chars, 0)]
        self.chars -= len(text)
        return text

    def _exhaust(self, location: str, detail: str) -> None:
        if self.exhausted is None:
            self.exhausted = Finding(detail, location, incomplete=True)


# Where a value sits, kept unformatted until a finding needs it (most values have none):
# the field's own location, or (the parent's place, whether the step is a key, the key or
# index).
_Place = str | tuple["_Place", bool, object]
# dict first: most containers are, and a check against the Mapping ABC costs more.
_CONTAINERS = (dict, list, tuple, Mapping)


def _located(place: _Place) -> str:
    """A place as shown: ``inputSchema.properties.q.enum[2]``."""
    steps: list[str] = []
    while not isinstance(place, str):
        place, keyed, step = place
        steps.append(f".{display_key(step)}" if keyed else f"[{step}]")
    return place + "".join(reversed(steps))


def scan_value(value: object, location: str, budget: Budget) -> list[Finding]:
    """Scan every string (and every key) inside a JSON value, depth first, within the budget.

    When the budget runs out the scan stops; the caller reports ``budget.exhausted``.
    """
    findings: list[Finding] = []
    _walk(value, location, budget, findings)
    return findings


def scan_fields(
    fields: Iterable[tuple[str, object]], limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    """Scan named values (a tool's description, schemas, ...) under one budget."""
    budget = Budget(limits)
    findings: list[Finding] = []
    for location, value in fields:
        _walk(value, location, budget, findings)
    if budget.exhausted is not None:
        findings.append(budget.exhausted)
    return findings


def _walk(value: object, location: str, budget: Budget, findings: list[Finding]) -> None:
    """``scan_value`` into ``findings``: each value counted, each key and string scanned."""
    if not budget.take_node(location):
        return
    if isinstance(value, str):
        signs = scan_text(budget.take_text(value, location))
        if signs:
            findings.extend(Finding(s, location) for s in signs)
        return
    if not isinstance(value, _CONTAINERS):
        return
    max_depth = budget.limits.max_depth
    if max_depth <= 0:
        findings.append(_too_deep(location, max_depth))
        return
    # One frame per container being walked: its children (an iterator, so a huge container
    # is never copied), whether they are keyed, their depth and the container's place.
    # Document order: a child container's frame goes on top and is walked to its end first.
    frames: list[tuple[Iterator[tuple[object, object]], bool, int, _Place]] = [
        _frame(value, 1, location)
    ]
    depth_reported = False
    while frames:
        children, keyed, depth, parent = frames[-1]
        for step, node in children:
            place = (parent, keyed, step)
            # The budget's take_node, inline (a call per value otherwise), with the place
            # formatted only when the budget runs short.
            if budget.nodes <= 0 or budget.exhausted is not None:
                budget.take_node(_located(place))  # notes the exhaustion
                return
            budget.nodes -= 1
            if keyed and isinstance(step, str):
                _scan_string(step, place, "key ", budget, findings)
            if isinstance(node, str):
                _scan_string(node, place, "", budget, findings)
            elif isinstance(node, _CONTAINERS):
                if depth < max_depth:
                    frames.append(_frame(node, depth + 1, place))
                    break
                if not depth_reported:
                    findings.append(_too_deep(_located(place), max_depth))
                    depth_reported = True
        else:
            frames.pop()


def _scan_string(
    text: str, place: _Place, prefix: str, budget: Budget, findings: list[Finding]
) -> None:
    """One key or string value, within the budget; its place is formatted for findings only."""
    if len(text) > budget.chars:
        text = budget.take_text(text, _located(place))
    else:
        budget.chars -= len(text)
    signs = scan_text(text)
    if signs:
        where = prefix + _located(place)
        findings.extend(Finding(s, where) for s in signs)


def _frame(
    node: Mapping[object, object] | list[object] | tuple[object, ...], depth: int, place: _Place
) -> tuple[Iterator[tuple[object, object]], bool, int, _Place]:
    if isinstance(node, dict | Mapping):
        return iter(node.items()), True, depth, place
    return enumerate(node), False, depth, place


def _too_deep(location: str, max_depth: int) -> Finding:
    return Finding(f"nests deeper than {max_depth} levels", location, incomplete=True)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]{1,40}")


def display_key(key: object) -> str:
    """A key as a path segment that is safe to show: short, printable, ASCII."""
    text = key if isinstance(key, str) else str(key)
    if _PLAIN_KEY.fullmatch(text):
        return text
    shown = json.dumps(text[:40], ensure_ascii=True)
    return f"[{shown}{'...' if len(text) > 40 else ''}]"
