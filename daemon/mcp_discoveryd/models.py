"""Frozen value objects shared by discovery, guardrails, the cache and the CLI.

Catalog items (tools, prompts, resources, templates) are kept as the JSON
objects the upstream sent, in MCP wire shape (camelCase: ``inputSchema``,
``outputSchema``, ``annotations``, ``_meta``), so nothing the server said is
lost and the cache stores exactly what a gateway will serve. They are shared
between snapshots and must be treated as read-only. A cache entry holds its
catalog encoded (``catalog.py`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from . import accepted as _accepted
from . import catalog as _catalog
from .auth.spec import OAuthSpec
from .secret import Secret, SecretUrl

JSONObject = dict[str, Any]
Catalog = _catalog.Catalog  # its home is catalog.py: how a cached one is held encoded
EMPTY_CATALOG = _catalog.EMPTY
AcceptedTool = _accepted.AcceptedTool  # its home is accepted.py, with the set held packed
AcceptedSet = _accepted.AcceptedSet
DIGEST = _accepted.DIGEST

# What a child inherits from the daemon's environment (names or globs), besides its own env.
DEFAULT_INHERIT_ENV = (
    *("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR"),
    *("LANG", "LANGUAGE", "LC_*", "TZ"),
    *(
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
    ),
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"),
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
)


class Transport(StrEnum):
    """How the daemon talks to an upstream."""

    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable-http"
    SSE = "sse"


@dataclass(frozen=True, slots=True)
class StdioTarget:
    """A server spawned as a child process speaking MCP over stdin/stdout."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, Secret] = field(default_factory=dict)  # every value a secret
    cwd: str | None = None
    inherit_env: tuple[str, ...] = DEFAULT_INHERIT_ENV  # names or globs from the daemon's env
    withheld_env: frozenset[str] = frozenset()  # the daemon's own secrets: never inherited

    @property
    def transport(self) -> Transport:
        return Transport.STDIO

    def secrets(self) -> tuple[Secret, ...]:
        """What upstream text about this server is scrubbed of."""
        return tuple(self.env.values())


@dataclass(frozen=True, slots=True)
class RemoteTarget:
    """A server reached over the network (streamable HTTP or SSE)."""

    url: SecretUrl  # may carry a token in its query or userinfo
    transport: Transport = Transport.STREAMABLE_HTTP
    headers: Mapping[str, Secret] = field(default_factory=dict)  # every value a secret
    oauth: OAuthSpec | None = None  # a bearer token got by client credentials (auth/)

    def secrets(self) -> tuple[Secret, ...]:
        """What upstream text about this server is scrubbed of."""
        own = () if self.oauth is None else self.oauth.secrets()
        return (*self.headers.values(), *self.url.secrets(), *own)


Target = StdioTarget | RemoteTarget


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """What the tool guardrails enforce for one server."""

    allowed_tools: tuple[str, ...] = ()  # globs; empty means every name is allowed
    denied_tools: tuple[str, ...] = ()  # globs
    block_destructive: bool = False  # annotations.destructiveHint true (or absent: spec default)
    block_open_world: bool = False  # annotations.openWorldHint true
    poisoning: Literal["block", "report", "off"] = "block"
    # (pattern, reason) for deny entries that give their own reason (Enkrypt's
    # {"pattern": ..., "reason": ...}): that reason is what a blocked tool reports.
    deny_reasons: tuple[tuple[str, str], ...] = ()
    # A tool whose definition changed since it was accepted (or a new one): "report" serves it
    # and reports the change, "block" withholds it until accepted through the API.
    on_tool_change: Literal["report", "block"] = "report"


@dataclass(frozen=True, slots=True)
class ServerPolicy:
    """What the server guardrails enforce for one server."""

    allowed_commands: tuple[str, ...] = ()  # globs on the command's basename; empty = all
    denied_commands: tuple[str, ...] = ()
    allow_plain_http: bool = False  # http:// to a non-loopback host
    block_suspicious_args: bool = True
    block_secrets_in_args: bool = True


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One upstream server as configured in one gateway."""

    name: str
    target: Target
    description: str = ""
    tools: tuple[JSONObject, ...] | None = None  # explicit tools: served from config, no discovery
    timeout: float = 30.0  # one deadline for connect, listing and close
    server_policy: ServerPolicy = ServerPolicy()
    tool_policy: ToolPolicy = ToolPolicy()
    # list_changed watching: "auto" (remote servers advertising listChanged), "on", "off"
    watch: Literal["auto", "on", "off"] = "auto"

    @property
    def is_config_defined(self) -> bool:
        """True when the config lists the tools, so the server is never contacted."""
        return self.tools is not None and len(self.tools) > 0

    def identity(self) -> tuple[object, ...]:
        """What makes two specs the same upstream (listed identically in several gateways)."""
        t = self.target
        if isinstance(t, StdioTarget):
            env = tuple(sorted(t.env.items()))
            inherited = (t.inherit_env, t.withheld_env)
            return ("stdio", t.command, t.args, env, t.cwd, inherited, self.timeout)
        return (t.transport.value, t.url, tuple(sorted(t.headers.items())), self.timeout)


class ErrorKind(StrEnum):
    """Why talking to an upstream failed; each has a distinct operator action."""

    TIMEOUT = "timeout"
    SPAWN_FAILED = "spawn_failed"
    CONNECTION_REFUSED = "connection_refused"
    NAME_NOT_FOUND = "name_not_found"  # the URL's host name does not resolve (DNS)
    HTTP_STATUS = "http_status"
    PROTOCOL_ERROR = "protocol_error"
    OVERSIZED = "oversized_reply"
    BLOCKED = "blocked"
    AUTH_FAILED = "auth_failed"  # no OAuth token could be got for the upstream
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """A failure as data: the kind, a message a person can act on, and stderr's last lines."""

    kind: ErrorKind
    message: str
    stderr_tail: tuple[str, ...] = ()
    http_status: int | None = None

    def to_json(self) -> JSONObject:
        out: JSONObject = {"kind": self.kind.value, "message": self.message}
        if self.http_status is not None:
            out["http_status"] = self.http_status
        if self.stderr_tail:
            out["stderr_tail"] = list(self.stderr_tail)
        return out


@dataclass(frozen=True, slots=True)
class CacheHint:
    """An upstream's own caching directive (``ttlMs``/``cacheScope``), when it sent one."""

    ttl_s: float | None = None
    private: bool = False


@dataclass(frozen=True, slots=True)
class UpstreamResult:
    """The outcome of one connection to one upstream: a catalog or an error, never both."""

    catalog: Catalog | None
    error: UpstreamError | None = None
    protocol_version: str | None = None
    server_info: JSONObject | None = None
    capabilities: JSONObject | None = None
    durations: Mapping[str, float] = field(default_factory=dict)  # connect, tools/list, ..., total
    cache_hint: CacheHint = CacheHint()

    @property
    def ok(self) -> bool:
        return self.error is None and self.catalog is not None


@dataclass(frozen=True, slots=True)
class BlockedTool:
    """A tool removed by the tool guardrails, with every reason that applied."""

    name: str
    reasons: tuple[str, ...]

    def to_json(self) -> JSONObject:
        return {"name": self.name, "reasons": list(self.reasons)}


ChangeKind = Literal["new", "changed", "removed"]


@dataclass(frozen=True, slots=True)
class ToolChange:
    """A tool that differs from the accepted set: what changed, and its current definition."""

    tool: str
    kind: ChangeKind
    fields: tuple[str, ...] = ()  # covered fields that changed ("changed" only)
    diff: str = ""  # a short readable diff of the description
    current: AcceptedTool | None = None  # what accepting it accepts (None: removed)

    def to_json(self) -> JSONObject:
        out: JSONObject = {"tool": self.tool, "kind": self.kind}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.diff:
            out["diff"] = self.diff
        if self.current is not None:
            out["current"] = self.current.to_json()
        return out

    @classmethod
    def from_json(cls, raw: JSONObject) -> ToolChange:
        """The stored form read back; TypeError/KeyError/ValueError when malformed."""
        kind = raw["kind"]
        if kind not in ("new", "changed", "removed"):
            raise ValueError(f"unknown tool change kind {kind!r}")
        current = raw.get("current")
        return cls(
            tool=str(raw["tool"]),
            kind=kind,
            fields=tuple(str(f) for f in raw.get("fields", ())),
            diff=str(raw.get("diff", "")),
            current=AcceptedTool.from_json(current) if current is not None else None,
        )


Source = Literal["config", "discovery", "cache"]
Status = Literal["success", "error", "blocked"]


@dataclass(frozen=True, slots=True)
class ServerOutcome:
    """The result of the three phases for one (gateway, server)."""

    gateway_id: str
    server_name: str
    status: Status
    source: Source
    catalog: Catalog = EMPTY_CATALOG  # after tool guardrails
    blocked_tools: tuple[BlockedTool, ...] = ()
    tool_warnings: tuple[BlockedTool, ...] = ()  # poisoning findings kept under policy "report"
    violations: tuple[str, ...] = ()  # server guardrail findings (status == "blocked")
    error: UpstreamError | None = None
    duration_s: float = 0.0
    protocol_version: str | None = None
    server_info: JSONObject | None = None
    capabilities: JSONObject | None = None
    cache_hint: CacheHint = CacheHint()
    stale: bool = False  # served from a cache entry past expires_at (its refresh failed: error)
    queued_s: float = 0.0  # part of duration_s spent waiting for spawn admission (stdio)
    # Rug-pull detection (discovered catalogs only): the accepted set to store (None: not
    # reviewed) and how the listing differs from it (pending until accepted).
    accepted_tools: tuple[AcceptedTool, ...] | None = None
    tool_changes: tuple[ToolChange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True, slots=True)
class DiscoveryReport:
    """All outcomes of one discovery run."""

    outcomes: tuple[ServerOutcome, ...]
    duration_s: float

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        """The run's status: "success" only when every server succeeded; never hide a failure."""
        ok = sum(1 for o in self.outcomes if o.ok)
        if ok == len(self.outcomes):
            return "success"
        return "partial" if ok else "error"


class CacheType(StrEnum):
    """The two kinds of cache entry."""

    TOOLS = "tools"  # one per (gateway, server): the catalog
    GATEWAY_CONFIG = "gateway_config"  # one per gateway: its resolved, secret-free config


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached value, the same shape in memory and in Redis. Times are UTC epoch seconds."""

    cache_type: CacheType
    gateway_id: str
    server_name: str | None  # None for gateway config entries
    source: Literal["config", "discovery"]
    fetched_at: float
    refresh_at: float
    expires_at: float
    stale_until: float
    catalog: Catalog = EMPTY_CATALOG
    server_info: JSONObject | None = None
    protocol_version: str | None = None
    capabilities: JSONObject | None = None
    blocked_tools: tuple[BlockedTool, ...] = ()
    content_hash: str = ""
    gateway_config: JSONObject | None = None  # GATEWAY_CONFIG entries only; never secrets
    last_error: UpstreamError | None = None
    consecutive_failures: int = 0
    private: bool = False  # an upstream asked for a private scope: never in a shared cache
    definition: str = ""  # fingerprint of the server definition it was made from (tools entries)
    policy: str = ""  # fingerprint of the tool policy that removed its blocked_tools
    # The accepted tool definitions (None: an entry made before rug-pull detection) and the
    # listing's differences from them, pending until accepted.
    accepted_tools: Sequence[AcceptedTool] | None = None  # held packed (an AcceptedSet)
    tool_changes: tuple[ToolChange, ...] = ()

    def __post_init__(self) -> None:
        # Held encoded: decoded, these were most of a loaded daemon's memory (catalog.py,
        # accepted.py). A replace() finds them packed already: nothing is encoded again.
        if not self.catalog.is_packed:
            object.__setattr__(self, "catalog", self.catalog.packed())
        accepted = self.accepted_tools
        if accepted is not None and not isinstance(accepted, AcceptedSet):
            object.__setattr__(self, "accepted_tools", AcceptedSet.pack(accepted))

    def freshness(self, now: float) -> Literal["fresh", "stale", "expired"]:
        """Fresh until expires_at, then stale (still served) until stale_until."""
        if now < self.expires_at:
            return "fresh"
        return "stale" if now < self.stale_until else "expired"
