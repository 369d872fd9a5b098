"""Upstream targets built and checked the same way for both config formats."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ..models import StdioTarget

BOTH_TARGETS = "give either command (stdio) or url (remote), not both"
NO_TARGET = "missing command or url: a server needs command (stdio) or url (remote)"


def stdio_target(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    base_dir: Path,
) -> StdioTarget:
    """A stdio target; a relative ``cwd`` is taken from the config file's directory.

    So a bundled config runs bundled servers from any working directory. Relative
    paths inside ``args`` are left alone: they are relative to ``cwd`` at spawn time.
    """
    resolved = None if cwd is None else os.path.normpath(base_dir / cwd)
    return StdioTarget(command=command, args=tuple(args), env=dict(env), cwd=resolved)


def check_remote_url(url: str) -> str | None:
    """Why ``url`` cannot reach an MCP server, or None; never echoes the URL (it may hold a key)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- evaluated for its ValueError on a bad port
    except ValueError:
        return "not a valid URL (check the port and any [IPv6] brackets)"
    if parts.scheme not in ("http", "https"):
        return "url must start with http:// or https://"
    if not parts.hostname:
        return "url has no host"
    return None
