"""The most telling line of a child's stderr, for the one-line note of a failed server.

A failing tool's last stderr line is often boilerplate (``npm error A complete
log of this run can be found in ...``); the cause is further up. In order:

1. after a Python ``Traceback`` (the last one), its exception line (the first line after it
   that is not indented, e.g. ``ModuleNotFoundError: No module named 'x'``);
2. the first line that looks like an error (``npm error 404 ...``,
   ``Error: ...``, ``fatal: ...``), skipping boilerplate (``npm error code
   E404``, log-file pointers);
3. the last non-blank line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ERROR = re.compile(
    r"\b(error|err!|fatal|exception|panic|failed|failure|cannot|can't|unable|denied|"
    r"not found|no such|refused|invalid|unauthori[sz]ed|forbidden|E[A-Z]{3,})\b"
    r"|^\w*(Error|Exception|Exit)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"complete log of this run|for more information|^npm (error|ERR!) code\b"
    r"|^\W*(npm )?(error|ERR!)\W*$|^Traceback \(most recent call last\)",
    re.IGNORECASE,
)


def telling_line(lines: Iterable[str]) -> str | None:
    """The line that best says what went wrong; None when there is no non-blank line."""
    kept = [line.rstrip() for line in lines if line.strip()]
    if not kept:
        return None
    for index in reversed(range(len(kept))):  # the last traceback (chained ones come first)
        if kept[index].startswith("Traceback (most recent call last)"):
            after = [later for later in kept[index + 1 :] if not later[:1].isspace()]
            if after:
                return after[0]
    for line in kept:
        if _ERROR.search(line) and not _BOILERPLATE.search(line):
            return line
    return kept[-1]
