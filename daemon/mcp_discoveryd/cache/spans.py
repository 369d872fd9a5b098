"""A JSON document decoded, with the source text of one top-level value kept.

The codec keeps an entry's catalog as the bytes it was stored as (``catalog.py``
says why). Finding where that value starts and ends needs a parse anyway, so
the top level is walked here, each value decoded by the stdlib's C scanner
(``scan_once``, what ``json.loads`` runs): one decode of everything, as
``json.loads`` does, plus the span of the value asked for; no second encode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_decoder = json.JSONDecoder()
# (text, index) -> (value, end), StopIteration when no value: the C scanner json.loads runs
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
_blank = re.compile(r"[ \t\n\r]*")


def _space(text: str, i: int) -> int:
    """The index of the first non-blank character at or after ``i``."""
    found = _blank.match(text, i)
    return found.end() if found is not None else i


def value_with_raw(text: str, key: str) -> tuple[Any, str | None]:
    """``json.loads(text)``, and the source text of ``key``'s value when ``text`` is an
    object holding it (the last one, as ``json.loads`` keeps); ValueError when not JSON."""
    i = _space(text, 0)
    if not text.startswith("{", i):
        return _decoder.decode(text), None  # not an object: nothing to keep
    doc: dict[str, Any] = {}
    raw: str | None = None
    try:
        i = _space(text, i + 1)
        if text.startswith("}", i):
            i += 1
        else:
            while True:
                if not text.startswith('"', i):
                    raise ValueError(f"expected a key at {i}")
                name, i = _scan(text, i)
                i = _space(text, i)
                if not text.startswith(":", i):
                    raise ValueError(f"expected ':' at {i}")
                start = _space(text, i + 1)
                value, i = _scan(text, start)
                doc[name] = value
                if name == key:
                    raw = text[start:i]
                i = _space(text, i)
                if text.startswith("}", i):
                    i += 1
                    break
                if not text.startswith(",", i):
                    raise ValueError(f"expected ',' or '}}' at {i}")
                i = _space(text, i + 1)
    except StopIteration as exc:  # the scanner found no value where one belongs
        raise ValueError(f"expected a value at {exc.value}") from None
    if _space(text, i) != len(text):
        raise ValueError(f"extra data at {i}")
    return doc, raw
