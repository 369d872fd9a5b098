"""The exception hierarchy: one base, a branch per area.

Expected upstream failures are *data* (see ``models.UpstreamError``), never
exceptions; the classes here are for misuse, bad configuration and
infrastructure trouble that a caller must handle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DiscoverydError(Exception):
    """Base class of every error raised by mcp-discoveryd."""


# --- configuration -------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where it is and what it is."""

    location: str  # "line 4, column 7" or a key path such as "gateways.prod.servers.gh.url"
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(DiscoverydError):
    """A config file could not be read or is invalid; carries every problem found."""

    def __init__(self, path: str, problems: Sequence[ConfigProblem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        lines = "\n".join(f"{path}: {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {path}\n{lines}")


# --- cache -----------------------------------------------------------------------


class CacheError(DiscoverydError):
    """Base class of cache-backend errors."""


class CacheUnavailableError(CacheError):
    """The cache backend could not be reached (network, auth, server down)."""

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"{backend} cache unavailable: {reason}")


class CacheBusyError(CacheError):
    """Every pooled connection stayed in use for the pool's whole wait: load, not an outage.

    Never marks the store down: reads answer from memory, writes and leases wait again.
    """

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"{backend} cache busy: {reason}")


class CacheDecodeError(CacheError):
    """A stored entry could not be decoded (corrupt bytes or another format version)."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"cannot decode cache entry {key}: {reason}")


# --- discovery -------------------------------------------------------------------


class DiscoveryError(DiscoverydError):
    """Base class of discovery misuse errors (unknown gateway or server, ...)."""


class UnknownTargetError(DiscoveryError):
    """A gateway or server named by the caller is not in the config."""

    def __init__(self, what: str, name: str, known: Sequence[str]) -> None:
        self.what = what
        self.name = name
        choices = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown {what} {name!r} (known: {choices})")


# --- daemon ----------------------------------------------------------------------


class DaemonError(DiscoverydError):
    """Base class of errors of the long-running daemon."""


class NotAccepting(DaemonError):
    """The daemon is shutting down and takes no new work."""
