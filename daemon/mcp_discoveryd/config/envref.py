"""``${VAR}`` and ``${VAR:-default}`` in config strings, expanded from an environment mapping.

This is how secrets stay out of config files: ``headers = { Authorization = "Bearer
${GITHUB_TOKEN}" }``. ``$${`` writes a literal ``${``; any other ``$`` is literal.
A substituted value makes the env or header value it lands in a credential (scrubbed
from upstream text; see ``targets.secret``); ``referenced_names`` tells which variables
the daemon's own sections use, so that no child inherits them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from .problems import KeyPath, Problems

_TOKEN = re.compile(r"\$\$\{|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_TOKEN_ESCAPE = re.compile(r"\$\$\{")


class EnvRefError(ValueError):
    """A reference that cannot be expanded; the message never carries a value."""


def expand(text: str, env: Mapping[str, str], used: set[str]) -> str:
    """``text`` with every reference replaced; substituted values are added to ``used``."""
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() < pos:
            continue  # inside a reference already consumed
        out.append(text[pos : match.start()])
        if match.group() == "$${":
            out.append("${")
            pos = match.end()
            continue
        close = text.find("}", match.end())
        if close < 0:
            raise EnvRefError("unterminated environment reference: '${' without '}'")
        out.append(_lookup(text[match.end() : close], env, used))
        pos = close + 1
    out.append(text[pos:])
    return "".join(out)


def _lookup(body: str, env: Mapping[str, str], used: set[str]) -> str:
    name, sep, default = body.partition(":-")
    if not _NAME.fullmatch(name):
        raise EnvRefError(  # the name only: a default may be a secret
            f"bad environment reference '${{{name[:40]}}}': write ${{NAME}} or ${{NAME:-default}} "
            "with NAME made of letters, digits and '_'"
        )
    value = env.get(name)
    if value is None or (sep and value == ""):
        if not sep:
            raise EnvRefError(f"environment variable {name} is not set (referenced as ${{{name}}})")
        return default
    used.add(value)
    return value


def expand_tree(
    node: Any,
    env: Mapping[str, str],
    path: KeyPath,
    problems: Problems,
    used: set[str],
    skip: AbstractSet[str] = frozenset(),
) -> Any:
    """A copy of a parsed document with references expanded in every string value.

    Keys named in ``skip`` are copied verbatim (explicit tool definitions are data for
    models, not configuration). A failed reference is reported at its key path and the
    string is kept as written, so that nothing else is reported for it.
    """
    if isinstance(node, str):
        try:
            return expand(node, env, used)
        except EnvRefError as exc:
            problems.add_silencing(path, str(exc))
            return node
    if isinstance(node, dict):
        return {
            key: value
            if key in skip
            else expand_tree(value, env, (*path, key), problems, used, skip)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            expand_tree(value, env, (*path, index), problems, used, skip)
            for index, value in enumerate(node)
        ]
    return node


def referenced_names(node: Any) -> frozenset[str]:
    """The variable names that ``${NAME}`` references in a parsed document name."""
    if isinstance(node, str):
        return frozenset(_REFERENCE.findall(_TOKEN_ESCAPE.sub("", node)))
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list):
        return frozenset().union(*(referenced_names(value) for value in node))
    return frozenset()
