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


# --- control socket ----------------------------------------------------------------


class ControlError(DiscoverydError):
    """Base class of control-socket errors (serving it, or talking to a daemon over it)."""


class SocketInUseError(ControlError):
    """Another daemon serves (or is starting on) the control socket: it is never taken over."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"control socket {path}: {reason}")


class SocketSetupError(ControlError):
    """The control socket could not be created (directory, permissions, unknown group)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"control socket {path}: {reason}")


class ControlRequestError(ControlError):
    """The daemon answered a request with an error status; ``message`` is its reason."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


class RefusedError(ControlRequestError):
    """403: this peer may read but not change (discover, clear, reload, accept)."""


class NotFoundError(ControlRequestError):
    """404: an unknown gateway, server or path."""


class DaemonStoppingError(ControlRequestError):
    """503: the daemon is stopping, refused the connection under load, or found Redis busy."""


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


class AmbiguousServerError(DiscoveryError):
    """A server name found in several gateways, asked for without naming one."""

    def __init__(self, name: str, gateways: Sequence[str]) -> None:
        self.name = name
        self.gateways = tuple(gateways)
        super().__init__(
            f"server {name!r} is in several gateways ({', '.join(sorted(gateways))}): name one"
        )


# --- guardrails ------------------------------------------------------------------


class GuardrailProviderError(DiscoverydError):
    """An external guardrail provider gave no usable answer (down, slow, or garbled).

    ``failure`` is built from our own data (a status, a timeout, what was wrong with
    the shape), never from the provider's text, so it is safe to show in a reason.
    """

    def __init__(self, failure: str) -> None:
        self.failure = failure
        super().__init__(failure)


# --- upstream authorization --------------------------------------------------------


class AuthError(DiscoverydError):
    """Base class of upstream OAuth errors."""


class TokenError(AuthError):
    """No token could be got for an upstream; ``reason`` is a short code, never a secret.

    Reasons: ``invalid_client`` (the server refused the client's credentials),
    ``refused`` (another OAuth error), ``unreachable``, ``bad_reply``, ``discovery``
    (no token endpoint could be found), ``insecure`` (plain HTTP while HTTPS is enforced).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# --- daemon ----------------------------------------------------------------------


class DaemonError(DiscoverydError):
    """Base class of errors of the long-running daemon."""


class NotAccepting(DaemonError):
    """The daemon is shutting down and takes no new work."""


class DaemonUnavailable(DaemonError):
    """No daemon answered on the control socket (none running, or not ours)."""

    def __init__(self, socket_path: str, reason: str) -> None:
        self.socket_path = socket_path
        self.reason = reason
        super().__init__(f"no mcp-discoveryd answers on {socket_path}: {reason}")
