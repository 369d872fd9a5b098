"""Bounds on what a config file may be, checked before anything walks it.

A parser or a recursive walk meets a file nested thousands of levels deep with a
RecursionError, and a lone surrogate (``"\\ud800"`` in JSON) with a UnicodeEncodeError
when a message naming it is printed: both are reported here as config problems, with
the place, instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .problems import KeyPath, Problems

MAX_BYTES = 8 * 1024 * 1024  # a config file past this is not a config file
MAX_DEPTH = 64  # tables and arrays; a tool's JSON schema nests far less


def parse_bounded(parse: Callable[[str], Any], text: str, kind: str, problems: Problems) -> Any:
    """``parse(text)``, with nesting the parser cannot take and integers past Python's digit
    limit reported as problems (None returned) instead of raised."""
    try:
        return parse(text)
    except RecursionError:
        problems.add_at("file", f"{kind} nested too deeply (at most {MAX_DEPTH} levels)")
    except ValueError as exc:
        if type(exc) is not ValueError:  # the parser's own syntax errors are the caller's
            raise
        problems.add_at("file", f"{kind} value out of range: {exc}")
    return None


def check_shape(doc: object, problems: Problems, by_position: tuple[str, ...] = ()) -> bool:
    """Report the first place nested past MAX_DEPTH and every string that is not valid
    Unicode; True when the document may be walked recursively.

    Keys of the top-level tables in ``by_position`` are secrets (Enkrypt's ``apikeys``):
    their entries are named by position.
    """
    ok = True
    stack: list[tuple[KeyPath, object]] = [((), doc)]
    while stack:
        path, node = stack.pop()
        if len(path) > MAX_DEPTH:
            problems.add_silencing(path[:MAX_DEPTH], f"nested more than {MAX_DEPTH} levels deep")
            return False
        if isinstance(node, dict):
            masked = len(path) == 1 and path[0] in by_position
            for index, (key, value) in enumerate(node.items()):
                if _surrogates(key):
                    problems.add_silencing(path, "a key is not valid Unicode (a lone surrogate)")
                    ok = False
                    continue
                stack.append(((*path, index if masked else key), value))
        elif isinstance(node, list):
            stack.extend(((*path, index), value) for index, value in enumerate(node))
        elif isinstance(node, str) and _surrogates(node):
            problems.add_silencing(path, "not valid Unicode (a lone surrogate escape)")
            ok = False
    return ok


def _surrogates(text: object) -> bool:
    return isinstance(text, str) and not text.isascii() and _has_surrogate(text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
