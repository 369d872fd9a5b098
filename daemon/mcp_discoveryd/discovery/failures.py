"""Turning what went wrong with one upstream into an UpstreamError a person can act on.

The one place where SDK, httpx2 and OS exceptions are translated. The SDK
delivers them in nested exception groups; the transport's watch (exit code,
stderr, stdout faults for stdio; HTTP statuses and the size cap for HTTP)
often knows more than the exception, so it is consulted first. Each connection
has one watch, of its transport's kind (none in process). Messages never carry
argv, env or header values, query strings or URL credentials: they are
redacted or left out.

Only our own deadline and the SDK's own request timeout are timeouts: a
server's JSON-RPC error is reported as the server's, with its code and
message, whatever the code (a server may well answer -32001 or -32000).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from mcp import MCPError
from pydantic import ValidationError

from ..errors import TokenError
from ..models import ErrorKind, RemoteTarget, StdioTarget, Target, UpstreamError
from ..secret import Secret, scrub
from .listing import CatalogFault, PhaseClock
from .stderr_note import telling_line
from .transports.client import HttpWatch
from .transports.sdk_shim import is_own_connection_closed, is_own_request_timeout
from .transports.stdio import StdioWatch

# What one connection's transport saw: a child process, an HTTP exchange, or nothing (in process).
Watch = StdioWatch | HttpWatch | None

_STATUS_ADVICE = {
    401: "check the credentials (headers) configured for this server",
    403: "check the credentials (headers) configured for this server",
    404: "check the URL path (streamable HTTP usually ends in /mcp, SSE in /sse)",
    405: "check the transport (streamable-http or sse) configured for this server",
}
SSE_HINT = (
    'this looks like an SSE endpoint: set transport = "sse" for this server '
    "(the default is streamable HTTP)"
)


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
        self, kind: ErrorKind, message: str, watch: Watch, status: int | None = None
    ) -> UpstreamError:
        """The error, with stderr's tail attached: both scrubbed of this server's secrets."""
        tail = (
            tuple(scrub(line, self.secrets) for line in watch.stderr)
            if isinstance(watch, StdioWatch)
            else ()
        )
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


def timed_out(subject: Subject, clock: PhaseClock, watch: Watch) -> UpstreamError:
    """The deadline passed: say where it was stuck, and the likely cause when one is known."""
    if isinstance(watch, StdioWatch) and watch.garbage_lines:
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"{_garbage(watch)} and {_where(clock)} did not finish within {subject.timeout:g} s",
            watch,
        )
    if isinstance(watch, HttpWatch) and (status := watch.failing_status()) and status[0] == "POST":
        return _http_status(subject, status, watch)
    message = (
        f"no complete answer from {subject.label} within {subject.timeout:g} s "
        f"(stuck in {_where(clock)})"
    )
    if looks_like_sse(subject.label, watch):
        message += f"; {SSE_HINT}"
    return subject.error(ErrorKind.TIMEOUT, message + _stderr_note(watch), watch)


def from_exception(
    exc: Exception, subject: Subject, clock: PhaseClock, watch: Watch
) -> UpstreamError | None:
    """The error an exception from a connection means; None when it is not an upstream fault."""
    found = list(leaves(exc))
    for leaf in found:
        if isinstance(leaf, CatalogFault):
            return subject.error(leaf.kind, leaf.message, watch)
        if isinstance(leaf, TokenError):  # no OAuth token: the grant's own reason
            return subject.error(ErrorKind.AUTH_FAILED, f"no OAuth token: {leaf}", None)
    if isinstance(watch, StdioWatch):
        if watch.gave_up == "oversized":
            return subject.error(
                ErrorKind.OVERSIZED,
                f"server sent one reply line far larger than the {subject.max_bytes}-byte "
                f"catalog cap during {_where(clock)}",
                watch,
            )
        if watch.gave_up == "garbage":
            return subject.error(ErrorKind.PROTOCOL_ERROR, _garbage(watch), watch)
        for leaf in found:
            if isinstance(leaf, OSError) and not watch.spawned:
                return subject.error(ErrorKind.SPAWN_FAILED, _spawn_failure(leaf, subject), None)
    if isinstance(watch, HttpWatch):
        if watch.oversized:
            return subject.error(
                ErrorKind.OVERSIZED,
                f"server sent an HTTP reply that decodes to more than the {subject.max_bytes}-"
                f"byte catalog cap allows during {_where(clock)}",
                watch,
            )
        for leaf in found:
            if isinstance(leaf, httpx2.HTTPStatusError):
                response = leaf.response
                refused = (response.request.method, response.status_code)
                return _http_status(subject, refused, watch)
        if (status := watch.failing_status()) and status[0] == "POST":
            return _http_status(subject, status, watch)
    for leaf in found:
        if isinstance(leaf, Exception) and (error := _one(leaf, subject, clock, watch)):
            return error
    return None


def _one(
    leaf: Exception, subject: Subject, clock: PhaseClock, watch: Watch
) -> UpstreamError | None:
    where = _where(clock)
    if isinstance(leaf, httpx2.ConnectError | httpx2.ProxyError):
        if _caused_by(leaf, socket.gaierror):
            host = urlsplit(subject.label).hostname or subject.label
            return subject.error(
                ErrorKind.NAME_NOT_FOUND,
                f"name not found: {host!r} does not resolve (check the URL's host name and "
                "the DNS this host uses)",
                watch,
            )
        return subject.error(
            ErrorKind.CONNECTION_REFUSED, f"cannot connect to {subject.label}: {leaf}", watch
        )
    if isinstance(leaf, httpx2.TimeoutException):
        return subject.error(
            ErrorKind.TIMEOUT, f"HTTP request to {subject.label} timed out during {where}", watch
        )
    if isinstance(leaf, httpx2.SSEError):
        kind = ErrorKind.OVERSIZED if "exceeded" in str(leaf) else ErrorKind.PROTOCOL_ERROR
        return subject.error(kind, f"bad server-sent event stream during {where}: {leaf}", watch)
    if isinstance(leaf, MCPError):
        return _mcp_error(leaf, subject, where, watch)
    if isinstance(leaf, ValidationError):
        problem = leaf.errors()[0] if leaf.errors() else {"loc": (), "msg": str(leaf)}
        location = ".".join(str(p) for p in problem["loc"]) or "reply"
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"server's reply to {where} does not follow the MCP schema "
            f"({leaf.error_count()} problem(s); first: {location}: {problem['msg']})",
            watch,
        )
    if isinstance(leaf, httpx2.TransportError):
        return subject.error(
            ErrorKind.PROTOCOL_ERROR,
            f"HTTP exchange with {subject.label} failed during {where}: "
            f"{type(leaf).__name__}: {leaf}",
            watch,
        )
    if isinstance(leaf, RuntimeError | ValueError):  # e.g. an unsupported protocol version
        return subject.error(ErrorKind.PROTOCOL_ERROR, f"{where} failed: {leaf}", watch)
    return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in ``exc``'s chain of causes (httpx2 wraps httpcore2 wraps the OS)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _mcp_error(leaf: MCPError, subject: Subject, where: str, watch: Watch) -> UpstreamError:
    if is_own_request_timeout(leaf):
        return subject.error(
            ErrorKind.TIMEOUT, f"server did not answer {where} in time" + _stderr_note(watch), watch
        )
    if is_own_connection_closed(leaf) and isinstance(watch, StdioWatch):
        return subject.error(ErrorKind.PROTOCOL_ERROR, _exit_story(watch, where), watch)
    if is_own_connection_closed(leaf):
        return subject.error(
            ErrorKind.PROTOCOL_ERROR, f"server closed the connection during {where}", watch
        )
    return subject.error(
        ErrorKind.PROTOCOL_ERROR,
        f"server answered {where} with JSON-RPC error {leaf.code}: {leaf.message}",
        watch,
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
    return story + _stderr_note(stdio)


def _stderr_note(watch: Watch) -> str:
    """The most telling stderr line, for the one-line note (``--json`` keeps the whole tail)."""
    if isinstance(watch, StdioWatch) and (line := telling_line(watch.stderr)) is not None:
        return f"; stderr: {line}"
    return ""


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


def _http_status(subject: Subject, status: tuple[str, int], watch: Watch) -> UpstreamError:
    method, code = status
    reason = httpx2.codes.get_reason_phrase(code)
    advice = _STATUS_ADVICE.get(code) or (
        "the server failed; see its logs" if code >= 500 else "see the server's documentation"
    )
    if looks_like_sse(subject.label, watch):
        advice = SSE_HINT
    return subject.error(
        ErrorKind.HTTP_STATUS,
        f"server answered HTTP {code} {reason} to {method} {subject.label}; {advice}".replace(
            "  ", " "
        ),
        watch,
        code,
    )


def looks_like_sse(label: str, watch: Watch) -> bool:
    """A streamable HTTP request that an SSE endpoint refused: the path or the reply says SSE."""
    if not isinstance(watch, HttpWatch) or watch.transport != "streamable-http":
        return False
    return watch.event_stream_refused or urlsplit(label).path.rstrip("/").endswith("/sse")


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
