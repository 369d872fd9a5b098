"""Rug-pull detection: content hashes of tool definitions and their differences.

A tool's definition is the fields a model or a gateway acts on: ``COVERED``. Its
hash is SHA-256 over a canonical JSON form (keys sorted, no whitespace, UTF-8),
so key order and spacing of the upstream's JSON change nothing and any change
of a covered value changes the hash. Records hold digests as bytes, and a cache
entry its accepted set packed (``accepted.py``); stored and shown, a hash is
``sha256:<hex>``.

- ``_meta`` is not covered: it is protocol metadata for clients (progress,
  UI hints, vendor stamps; some servers put build ids or timestamps in it), not
  what the model reads, so covering it would report changes nobody needs to
  review. It is still stored and served as sent.
- Text is hashed exactly as sent, not folded as the guardrails fold it for
  matching (``normalise``): a rug pull that only adds invisible or look-alike
  characters is exactly what folding would hide.

``review`` compares a listing with the accepted set: the first listing is
accepted whole (trust on first use); later, new, changed and removed tools are
changes, pending until accepted. Under ``on_tool_change = "block"`` new and
changed tools are withheld (neither the new nor the old definition is served).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ... import accepted as accepted_module
from ...models import DIGEST, AcceptedTool, BlockedTool, JSONObject, ToolChange

COVERED = accepted_module.COVERED  # name, title, description, input/output schema, annotations
WITHHELD = "withheld:"  # how a withheld tool's reason starts (status lists them apart)
DIFF_LIMIT = 240  # characters of description diff kept per change

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def value_digest(value: object) -> bytes:
    """SHA-256 of a JSON value's canonical form (sorted keys, no whitespace)."""
    return hashlib.sha256(_canonical(value).encode()).digest()


def value_hash(value: object) -> str:
    """``value_digest`` as stored and shown: ``sha256:<hex>``."""
    return DIGEST + value_digest(value).hex()


def definition(tool: JSONObject) -> JSONObject:
    """The covered fields of a tool (those present)."""
    return {k: tool[k] for k in COVERED if k in tool}


def tool_hash(tool: JSONObject) -> str:
    """The content hash of a tool's definition (covered fields only)."""
    return value_hash(definition(tool))


# The covered fields in the order the canonical form sorts them, each with its key as
# written there ('"name":'): the definition's form is built from its fields' forms.
_SORTED_KEYS = tuple((k, _canonical(k).encode() + b":") for k in sorted(COVERED))


def accepted(tool: JSONObject) -> AcceptedTool:
    """What accepting this tool's current definition records."""
    # Each covered field is encoded once: its digest hashes that, and the definition's
    # digest hashes the same bytes joined as the canonical form of an object joins them
    # ('{' + '"key":value' in sorted key order, comma-separated + '}'), so both digests
    # equal value_digest of the field and of definition(tool), byte for byte.
    encoded = {k: _canonical(tool[k]).encode() for k in COVERED if k in tool}
    whole = b",".join(key + encoded[k] for k, key in _SORTED_KEYS if k in encoded)
    description = tool.get("description")
    return AcceptedTool.of(
        name=str(tool.get("name", "")),
        digest=hashlib.sha256(b"{" + whole + b"}").digest(),
        fields=[(k, hashlib.sha256(v).digest()) for k, v in encoded.items()],
        description=description if isinstance(description, str) else "",
    )


def compare(known: Sequence[AcceptedTool], tools: Sequence[JSONObject]) -> tuple[ToolChange, ...]:
    """How a listing differs from the accepted set: new, changed (what), removed; by name."""
    by_name = {a.name: a for a in known}
    changes: list[ToolChange] = []
    seen: set[str] = set()
    for tool in tools:
        current = accepted(tool)
        seen.add(current.name)
        old = by_name.get(current.name)
        if old is None:
            changes.append(ToolChange(current.name, "new", current=current))
        elif old.digest != current.digest:
            fields = tuple(f for f in COVERED if old.field_digest(f) != current.field_digest(f))
            diff = describe_diff(old.description, current.description)
            diff = diff if "description" in fields else ""
            changes.append(ToolChange(current.name, "changed", fields, diff, current))
    changes.extend(ToolChange(a.name, "removed") for a in known if a.name not in seen)
    return tuple(changes)


def describe_diff(old: str, new: str) -> str:
    """A short word diff: ``-[removed words] +[added words]`` per changed run, truncated."""
    a, b = old.split(), new.split()
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            parts.append("-[" + " ".join(a[i1:i2]) + "]")
        if j2 > j1:
            parts.append("+[" + " ".join(b[j1:j2]) + "]")
    text = " ".join(parts) or "whitespace only"
    return text if len(text) <= DIFF_LIMIT else text[: DIFF_LIMIT - 1] + "…"


def change_json(change: ToolChange) -> JSONObject:
    """A change as reported (status, discover): without the definition hashes."""
    return {k: v for k, v in change.to_json().items() if k != "current"}


def summary(change: ToolChange) -> str:
    """One readable line for a change: the tool, its kind and what changed."""
    if change.kind != "changed":
        return f"tool {change.tool!r} {change.kind}"
    text = f"tool {change.tool!r} changed: {', '.join(change.fields)}"
    return text + (f"; description {change.diff}" if change.diff else "")


@dataclass(frozen=True, slots=True)
class Review:
    """A listing reviewed against the accepted set."""

    kept: tuple[JSONObject, ...]  # what is served
    withheld: tuple[BlockedTool, ...]  # changed or new tools under "block"
    accepted: tuple[AcceptedTool, ...]  # the accepted set to store
    changes: tuple[ToolChange, ...]  # pending until accepted


def review(
    known: Sequence[AcceptedTool] | None, tools: Sequence[JSONObject], on_change: str
) -> Review:
    """Compare ``tools`` with the accepted set ``known`` (None: first listing, all accepted)."""
    if known is None:
        return Review(tuple(tools), (), tuple(accepted(t) for t in tools), ())
    changes = compare(known, tools)
    if on_change != "block":
        return Review(tuple(tools), (), tuple(known), changes)
    kept, withheld = withhold(tools, changes, on_change)
    return Review(kept, withheld, tuple(known), changes)


def withhold(
    tools: Sequence[JSONObject], changes: Sequence[ToolChange], on_change: str
) -> tuple[tuple[JSONObject, ...], tuple[BlockedTool, ...]]:
    """Tools a stored catalog may serve under today's policy: under "block", none pending.

    An entry made under "report" holds changed tools; once the policy is "block" they
    are withheld at once, not at the next refresh.
    """
    held = {c.tool: c for c in changes if c.kind != "removed"}
    if on_change != "block" or not held:
        return tuple(tools), ()
    kept = tuple(t for t in tools if str(t.get("name", "")) not in held)
    withheld = tuple(
        BlockedTool(name, (_reason(held[name]),))
        for name in (str(t.get("name", "")) for t in tools)
        if name in held
    )
    return kept, withheld


def accept(
    known: Sequence[AcceptedTool], changes: Sequence[ToolChange], tool: str | None
) -> tuple[tuple[AcceptedTool, ...], tuple[ToolChange, ...]]:
    """The accepted set and pending changes after accepting ``tool`` (None: every pending one)."""
    chosen = {c.tool: c for c in changes if tool is None or c.tool == tool}
    result = [a for a in known if a.name not in chosen]
    result.extend(c.current for c in chosen.values() if c.current is not None)
    return tuple(result), tuple(c for c in changes if c.tool not in chosen)


def _reason(change: ToolChange) -> str:
    what = "new since the accepted listing" if change.kind == "new" else "definition changed"
    fields = f" ({', '.join(change.fields)})" if change.fields else ""
    return f"{WITHHELD} {what}{fields}; accept it through the API to serve it"
