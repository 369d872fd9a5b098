"""Turning what went wrong with one upstream into an UpstreamError a person can act on.

The one place where SDK, httpx2 and OS exceptions are translated. The SDK
delivers them in nested exception groups; the transports' watches (exit code,
stderr, stdout faults, HTTP statuses) often know more than the exception, so
they are consulted first. Messages never carry argv, env or header values,
query strings or URL credentials: they are redacted or left out.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from mcp import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from pydantic import ValidationError

from ..models import ErrorKind, RemoteTarget, StdioTarget, Target, UpstreamError
from ..secret import Secret, scrub
from .http import HttpWatch
from .listing import CatalogFault, PhaseClock
from .stdio import StdioWatch

_STATUS_ADVICE = {
    401: "check the credentials (headers) configured for this server",
    403: "check the credentials (headers) configured for this server",
    404: "check the URL path (streamable HTTP usually ends in /mcp, SSE in /sse)",
    405: "check the transport (streamable-http or sse) configured for this server",
}


@dataclass(frozen=True, slots=True)
class Subject:
    """The upstream a message is about, as far as a message may show it."""

    label: str  # "'node'" or "http://host:port/path": never argv, query or userinfo
    timeout: float
    max_bytes: int
    secrets: tuple[Secret, ...]  # what upstream text is scrubbed of
    cwd: str | None = None

    @classmethod
    def of(cls, target: Target, timeout: float, max_bytes: int) -> Subject:
        if isinstance(target, StdioTarget):
            return cls(repr(target.command), timeout, max_bytes, target.secrets(), target.cwd)
        return cls(safe_url(target), timeout, max_bytes, target.secrets())

    def error(
        self, kind: ErrorKind, message: str, stdio: StdioWatch | None, status: int | None = None
    ) -> UpstreamError:
        """The error, with stderr's tail attached: both scrubbed of this server's secrets."""
        tail = tuple(scrub(line, self.secrets) for line in stdio.stderr) if stdio else ()
        return UpstreamError(kind, scrub(message, self.secrets), tail, status)


def safe_url(target: RemoteTarget) -> str:
    """scheme://host:port/path: no credentials, no query (tokens often live there)."""
    parts = urlsplit(target.url.reveal())
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """Every exception inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def _where(clock: PhaseClock) -> str:
    if clock.phase == "connect":
        return "the handshake"
    return f"{clock.phase} ({clock.detail})" if clock.detail else clock.phase


def timed_out(
    subject: Subject, clock: PhaseClock, stdio: StdioWatch | None, http: HttpWatch | None
) -> UpstreamError:
    """The deadline passed: say where it was stuck, and the likely cause when one is known."""
    if stdio is not None and stdio.garbage_lines:
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"{_garbage(stdio)} and {_where(clock)} did not finish within {subject.timeout:g} s",
            stdio,
        )
    if http is not None and (status := http.failing_status()) and status[0] == "POST":
        return _http_status(subject, status, stdio)
    return subject.error(
        ErrorKind.TIMEOUT,
        f"no complete answer from {subject.label} within {subject.timeout:g} s "
        f"(stuck in {_where(clock)})",
        stdio,
    )


def from_exception(
    exc: Exception,
    subject: Subject,
    clock: PhaseClock,
    stdio: StdioWatch | None,
    http: HttpWatch | None,
) -> UpstreamError | None:
    """The error an exception from a connection means; None when it is not an upstream fault."""
    found = list(leaves(exc))
    for leaf in found:
        if isinstance(leaf, CatalogFault):
            return subject.error(leaf.kind, leaf.message, stdio)
    if stdio is not None and stdio.gave_up == "oversized":
        return subject.error(
            ErrorKind.OVERSIZED,
            f"server sent one reply line far larger than the {subject.max_bytes}-byte catalog "
            f"cap during {_where(clock)}",
            stdio,
        )
    if stdio is not None and stdio.gave_up == "garbage":
        return subject.error(ErrorKind.PROTOCOL_ERROR, _garbage(stdio), stdio)
    if http is not None and http.oversized:
        return subject.error(
            ErrorKind.OVERSIZED,
            f"server sent an HTTP reply far larger than the {subject.max_bytes}-byte catalog "
            f"cap during {_where(clock)}",
            None,
        )
    for leaf in found:
        if isinstance(leaf, OSError) and stdio is not None and not stdio.spawned:
            return subject.error(ErrorKind.SPAWN_FAILED, _spawn_failure(leaf, subject), None)
    for leaf in found:
        if isinstance(leaf, httpx2.HTTPStatusError):
            response = leaf.response
            return _http_status(subject, (response.request.method, response.status_code), None)
    if http is not None and (status := http.failing_status()) and status[0] == "POST":
        return _http_status(subject, status, None)
    for leaf in found:
        if isinstance(leaf, Exception) and (error := _one(leaf, subject, clock, stdio)):
            return error
    return None


def _one(
    leaf: Exception, subject: Subject, clock: PhaseClock, stdio: StdioWatch | None
) -> UpstreamError | None:
    where = _where(clock)
    if isinstance(leaf, httpx2.ConnectError | httpx2.ProxyError):
        return subject.error(
            ErrorKind.CONNECTION_REFUSED, f"cannot connect to {subject.label}: {leaf}", None
        )
    if isinstance(leaf, httpx2.TimeoutException):
        return subject.error(
            ErrorKind.TIMEOUT, f"HTTP request to {subject.label} timed out during {where}", None
        )
    if isinstance(leaf, httpx2.SSEError):
        kind = ErrorKind.OVERSIZED if "exceeded" in str(leaf) else ErrorKind.PROTOCOL_ERROR
        return subject.error(kind, f"bad server-sent event stream during {where}: {leaf}", None)
    if isinstance(leaf, MCPError):
        return _mcp_error(leaf, subject, where, stdio)
    if isinstance(leaf, ValidationError):
        problem = leaf.errors()[0] if leaf.errors() else {"loc": (), "msg": str(leaf)}
        location = ".".join(str(p) for p in problem["loc"]) or "reply"
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"server's reply to {where} does not follow the MCP schema "
            f"({leaf.error_count()} problem(s); first: {location}: {problem['msg']})",
            stdio,
        )
    if isinstance(leaf, httpx2.TransportError):
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"HTTP exchange with {subject.label} failed during {where}: "
            f"{type(leaf).__name__}: {leaf}",
            None,
        )
    if isinstance(leaf, RuntimeError | ValueError):  # e.g. an unsupported protocol version
        return subject.error(ErrorKind.PROTOCOL_ERROR, f"{where} failed: {leaf}", stdio)
    return None


def _mcp_error(
    leaf: MCPError, subject: Subject, where: str, stdio: StdioWatch | None
) -> UpstreamError:
    if leaf.code == REQUEST_TIMEOUT:
        return subject.error(ErrorKind.TIMEOUT, f"server did not answer {where} in time", stdio)
    if leaf.code == CONNECTION_CLOSED and stdio is not None:
        return subject.error(ErrorKind.PROTOCOL_ERROR, _exit_story(stdio, where), stdio)
    if leaf.code == CONNECTION_CLOSED:
        return subject.error(
            ErrorKind.PROTOCOL_ERROR, f"server closed the connection during {where}", None
        )
    return subject.error(
        ErrorKind.PROTOCOL_ERROR,
        f"server answered {where} with JSON-RPC error {leaf.code}: {leaf.message}",
        stdio,
    )


def _exit_story(stdio: StdioWatch, where: str) -> str:
    when = "before the handshake finished" if where == "the handshake" else f"during {where}"
    code = stdio.returncode
    if code is None:
        story = f"server closed its stdout {when}"
    elif code < 0:
        story = f"server was killed by {_signal_name(-code)} {when}"
    else:
        story = f"server exited {when} (exit code {code})"
    if stdio.stderr:
        story += f"; last stderr: {stdio.stderr[-1]}"
    return story


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _garbage(stdio: StdioWatch) -> str:
    return (
        f"server wrote {stdio.garbage_lines} line(s) on stdout that are not JSON-RPC "
        f"(first: {stdio.garbage_sample!r}); an MCP stdio server must keep stdout for "
        "protocol messages and log to stderr"
    )


def _http_status(
    subject: Subject, status: tuple[str, int], stdio: StdioWatch | None
) -> UpstreamError:
    method, code = status
    reason = httpx2.codes.get_reason_phrase(code)
    advice = _STATUS_ADVICE.get(code) or (
        "the server failed; see its logs" if code >= 500 else "see the server's documentation"
    )
    return subject.error(
        ErrorKind.HTTP_STATUS,
        f"server answered HTTP {code} {reason} to {method} {subject.label}; {advice}".replace(
            "  ", " "
        ),
        stdio,
        code,
    )


def _spawn_failure(exc: OSError, subject: Subject) -> str:
    if subject.cwd is not None and exc.filename == subject.cwd:
        if isinstance(exc, NotADirectoryError):
            return f"working directory {subject.cwd!r} is not a directory"
        if isinstance(exc, FileNotFoundError):
            return f"working directory {subject.cwd!r} does not exist"
        return f"working directory {subject.cwd!r} is not usable: {exc.strerror}"
    if isinstance(exc, FileNotFoundError):
        return (
            f"command {subject.label} not found: give an absolute path or make sure it is on "
            "the PATH the server is started with"
        )
    if isinstance(exc, PermissionError):
        return f"command {subject.label} cannot be executed (permission denied)"
    return f"cannot start command {subject.label}: {exc.strerror or exc}"
