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


# index).
_Place = str | tuple["_Place", bool, object]


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
    if not budget.take_node(location):
        return findings
    if isinstance(value, str):
        findings.extend(Finding(s, location) for s in scan_text(budget.take_text(value, location)))
        return findings
    if not isinstance(value, Mapping | list | tuple):
        return findings
    max_depth = budget.limits.max_depth
    if max_depth <= 0:
        findings.append(_too_deep(location, max_depth))
        return findings
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
            if budget.exhausted is not None or budget.nodes <= 0:
                budget.take_node(_located(place))  # notes the exhaustion
                return findings
            budget.nodes -= 1
            if keyed and isinstance(step, str):
                signs = scan_text(_taken(budget, step, place))
                if signs:
                    where = "key " + _located(place)
                    findings.extend(Finding(s, where) for s in signs)
            if isinstance(node, str):
                signs = scan_text(_taken(budget, node, place))
                if signs:
                    where = _located(place)
                    findings.extend(Finding(s, where) for s in signs)
            elif isinstance(node, Mapping | list | tuple):
                if depth < max_depth:
                    frames.append(_frame(node, depth + 1, place))
                    break
                if not depth_reported:
                    findings.append(_too_deep(_located(place), max_depth))
                    depth_reported = True
        else:
            frames.pop()
    return findings


def _frame(
    node: Mapping[object, object] | list[object] | tuple[object, ...], depth: int, place: _Place
) -> tuple[Iterator[tuple[object, object]], bool, int, _Place]:
    if isinstance(node, Mapping):
        return iter(node.items()), True, depth, place
    return enumerate(node), False, depth, place


def _taken(budget: Budget, text: str, place: _Place) -> str:
    """``budget.take_text``, with the place formatted only when the budget runs short."""
    if len(text) > budget.chars:
        return budget.take_text(text, _located(place))
    budget.chars -= len(text)
    return text


def _too_deep(location: str, max_depth: int) -> Finding:
    return Finding(f"nests deeper than {max_depth} levels", location, incomplete=True)


def scan_fields(
    fields: Iterable[tuple[str, object]], limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    """Scan named values (a tool's description, schemas, ...) under one budget."""
    budget = Budget(limits)
    findings: list[Finding] = []
    for location, value in fields:
        findings.extend(scan_value(value, location, budget))
    if budget.exhausted is not None:
        findings.append(budget.exhausted)
    return findings


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]{1,40}")


def display_key(key: object) -> str:
    """A key as a path segment that is safe to show: short, printable, ASCII."""
    text = key if isinstance(key, str) else str(key)
    if _PLAIN_KEY.fullmatch(text):
        return text
    shown = json.dumps(text[:40], ensure_ascii=True)
    return f"[{shown}{'...' if len(text) > 40 else ''}]"
