"""Every metric the daemon exports: name, UCUM unit, description, attribute keys, defined once.

``INSTRUMENTS`` is the catalogue; ``record.py`` creates them on a meter and records,
``catalogue.py`` renders the README's table from it (a test keeps the two equal).

Names: upstream calls follow the OpenTelemetry MCP semantic conventions
(``mcp.client.*``); the daemon's own live under ``mcpd.``. Units are never part of a
name (the Prometheus translation adds ``_seconds``, ``_bytes``, ``_total``).

Cardinality is bounded by construction: gateway and server names come from the
config file only; outcomes, triggers, reasons and error types are closed sets
(``REASON_CLASSES``, ``ErrorKind``); no tool name, caller id or secret is ever an
attribute value.

Nothing here imports OpenTelemetry: the one-shot CLI loads this module for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "histogram", "gauge"]  # gauge: observable, read at each export

# Bucket boundaries suited to what each histogram measures: a quantile is interpolated
# inside one bucket, so bounds built for another range flatten it to a bucket's midpoint.
# Adjacent bounds stay within a factor of 2-2.5 over the range that matters.

# The MCP semantic conventions' explicit bucket boundaries (seconds).
MCP_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Cache operations: microseconds in memory, a millisecond or so over Redis, a second at worst.
CACHE_BUCKETS = (
    1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0
)  # fmt: skip
# Refresh lead: well under a second (a 10 s TTL refreshed at its last moment) to hours
# (4 h TTLs), in factors of 2. Late refreshes are recorded by how late, with
# ``mcpd.refresh.timing=late``: an OTel histogram takes no negative values (the SDK drops them).
LEAD_BUCKETS = (
    0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 240.0, 480.0,
    900.0, 1800.0, 3600.0, 7200.0, 14400.0,
)  # fmt: skip
# Control API: a catalog read takes 100-200 us, a status of 10,000 servers tens of ms.
CONTROL_BUCKETS = (
    5e-5, 1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0
)  # fmt: skip
# One server's discovery (and a stdio spawn's wait for admission): 10 ms (a warm local
# server) to a minute (a slow remote, a timeout).
DISCOVERY_BUCKETS = (
    0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0
)  # fmt: skip

# Attribute keys (MCP conventions first, then the daemon's own).
METHOD = "mcp.method.name"
ERROR_TYPE = "error.type"
PROTOCOL = "mcp.protocol.version"
TRANSPORT = "network.transport"
ADDRESS = "server.address"
PORT = "server.port"
GATEWAY = "mcpd.gateway"
SERVER = "mcpd.server"
OUTCOME = "mcpd.outcome"
TRIGGER = "mcpd.trigger"
REASON = "mcpd.reason"
CHANGE = "mcpd.change"
CACHE_TYPE = "mcpd.cache.type"
TIER = "mcpd.cache.tier"
RESULT = "mcpd.cache.result"
READER = "mcpd.cache.reader"  # "daemon" (its own preload/refresh reads) or "gateway"
OPERATION = "mcpd.cache.operation"
BACKEND = "mcpd.cache.backend"
LEASE = "mcpd.lease.result"
POOL_EVENT = "mcpd.cache.pool.event"  # queued, exhausted, gave_up
TIMING = "mcpd.refresh.timing"  # "ahead" of its entry's expiry, or "late" past it
ROUTE = "mcpd.control.route"
HTTP_METHOD = "http.request.method"
STATUS = "http.response.status_code"

# Why a tool was blocked, as a closed set (the reason texts themselves are unbounded).
REASON_CLASSES = (
    "malformed",
    "denied",
    "not_allowed",
    "destructive",
    "open_world",
    "poisoning",
    "provider",
    "tool_change",
    "other",
)

_UPSTREAM = (ERROR_TYPE, PROTOCOL, TRANSPORT, ADDRESS, PORT, SERVER)


@dataclass(frozen=True, slots=True)
class Instrument:
    """One metric: what it is called, measures, in which unit, split by which attributes."""

    name: str
    kind: Kind
    unit: str  # UCUM; ``{thing}`` annotations count things
    description: str
    attributes: tuple[str, ...]
    buckets: tuple[float, ...] | None = None  # histograms only
    # a counter read from the daemon's own counts at each collection (an observable
    # counter): for hot paths, where an SDK add per event would cost ~15 us
    observed: bool = False


OPERATION_DURATION = Instrument(
    "mcp.client.operation.duration",
    "histogram",
    "s",
    "Duration of one MCP request to an upstream (initialize, tools/list, ...).",
    (METHOD, *_UPSTREAM),
    MCP_BUCKETS,
)
SESSION_DURATION = Instrument(
    "mcp.client.session.duration",
    "histogram",
    "s",
    "Duration of one upstream session, connect to close.",
    _UPSTREAM,
    MCP_BUCKETS,
)
DISCOVERY_RUNS = Instrument(
    "mcpd.discovery.runs",
    "counter",
    "{run}",
    "Discoveries of one server, by outcome and what triggered them.",
    (GATEWAY, SERVER, OUTCOME, TRIGGER),
)
DISCOVERY_DURATION = Instrument(
    "mcpd.discovery.duration",
    "histogram",
    "s",
    "Duration of one server's discovery (cache read, fetch, guardrails).",
    (GATEWAY, SERVER, OUTCOME, TRIGGER),
    DISCOVERY_BUCKETS,
)
QUEUE_DURATION = Instrument(
    "mcpd.spawn.queue.duration",
    "histogram",
    "s",
    "Time a stdio server waited for spawn admission (CPU, live-children cap).",
    (SERVER,),
    DISCOVERY_BUCKETS,
)
TOOLS_DISCOVERED = Instrument(
    "mcpd.tools.discovered",
    "counter",
    "{tool}",
    "Tools listed by upstreams, counted at each discovery that listed them.",
    (GATEWAY, SERVER),
)
TOOLS_BLOCKED = Instrument(
    "mcpd.tools.blocked",
    "counter",
    "{tool}",
    "Tools removed by the tool guardrails, by reason class (a tool counts once per class).",
    (GATEWAY, SERVER, REASON),
)
TOOL_CHANGES = Instrument(
    "mcpd.tool.changes",
    "counter",
    "{change}",
    "Tool definition changes detected against the accepted set (new, changed, removed).",
    (GATEWAY, SERVER, CHANGE),
)
CACHE_REQUESTS = Instrument(
    "mcpd.cache.requests",
    "counter",
    "{request}",
    "Cache lookups by result (hit, stale, miss), cache type, the tier that answered and "
    "whose read it was (daemon: preload and refresh; gateway: catalogs served to readers).",
    (CACHE_TYPE, TIER, RESULT, READER),
    observed=True,
)
CACHE_DURATION = Instrument(
    "mcpd.cache.operation.duration",
    "histogram",
    "s",
    "Duration of one cache backend operation.",
    (OPERATION, BACKEND, ERROR_TYPE),
    CACHE_BUCKETS,
)
CACHE_ENTRIES = Instrument(
    "mcpd.cache.entries",
    "gauge",
    "{entry}",
    "Entries held in the in-memory tier.",
    (TIER,),
)
CACHE_SIZE = Instrument(
    "mcpd.cache.size",
    "gauge",
    "By",
    "Encoded bytes held in the in-memory tier.",
    (TIER,),
)
POOL_WAITING = Instrument(
    "mcpd.cache.pool.waiting",
    "gauge",
    "{operation}",
    "Redis round trips queued for a pooled connection now (the gate in front of the pool).",
    (BACKEND,),
)
POOL_BUSY = Instrument(
    "mcpd.cache.pool.busy",
    "counter",
    "{operation}",
    "Redis round trips that found the pool busy: queued for a connection, pool wait ended "
    "busy (exhausted), or an operation that stopped asking after busy_wait (gave_up).",
    (BACKEND, POOL_EVENT),
    observed=True,
)
REFRESH_LEAD = Instrument(
    "mcpd.refresh.lead",
    "histogram",
    "s",
    "How long before its entry expired a refresh landed (timing ahead), or after it "
    "(timing late), by trigger.",
    (GATEWAY, SERVER, TRIGGER, TIMING),
    LEAD_BUCKETS,
)
LEASES = Instrument(
    "mcpd.lease.requests",
    "counter",
    "{lease}",
    "Refresh lease requests across daemons: acquired, or contended (another daemon held it).",
    (GATEWAY, SERVER, LEASE),
)
UPSTREAM_UP = Instrument(
    "mcpd.upstream.up",
    "gauge",
    "{upstream}",
    "1 when the server's last discovery succeeded, else 0.",
    (GATEWAY, SERVER),
)
WATCHED_SESSIONS = Instrument(
    "mcpd.watch.sessions",
    "gauge",
    "{session}",
    "Sessions kept open to hear list_changed notifications.",
    (),
)
CONTROL_REQUESTS = Instrument(
    "mcpd.control.requests",
    "counter",
    "{request}",
    "Requests to the control socket by route and status.",
    (ROUTE, HTTP_METHOD, STATUS),
)
CONTROL_DURATION = Instrument(
    "mcpd.control.duration",
    "histogram",
    "s",
    "Duration of one control socket request.",
    (ROUTE, HTTP_METHOD, STATUS),
    CONTROL_BUCKETS,
)
ACTOR_RESTARTS = Instrument(
    "mcpd.actor.restarts",
    "counter",
    "{restart}",
    "Server actors restarted after a crash.",
    (GATEWAY, SERVER),
)
TOKENS_HELD = Instrument(
    "mcpd.oauth.tokens.held",
    "gauge",
    "{token}",
    "1 while a usable upstream OAuth access token is held for the server, else 0.",
    (GATEWAY, SERVER),
)
TOKEN_REQUESTS = Instrument(
    "mcpd.oauth.token.requests",
    "counter",
    "{request}",
    "Upstream OAuth token requests by outcome (issued, refreshed, failed).",
    (GATEWAY, SERVER, OUTCOME),
    observed=True,
)
CONFIG_RELOADS = Instrument(
    "mcpd.config.reloads",
    "counter",
    "{reload}",
    "Config reloads by outcome (success, error: still on the previous config).",
    (OUTCOME,),
)

INSTRUMENTS: tuple[Instrument, ...] = (
    OPERATION_DURATION,
    SESSION_DURATION,
    DISCOVERY_RUNS,
    DISCOVERY_DURATION,
    QUEUE_DURATION,
    TOOLS_DISCOVERED,
    TOOLS_BLOCKED,
    TOOL_CHANGES,
    CACHE_REQUESTS,
    CACHE_DURATION,
    CACHE_ENTRIES,
    CACHE_SIZE,
    POOL_WAITING,
    POOL_BUSY,
    REFRESH_LEAD,
    LEASES,
    UPSTREAM_UP,
    WATCHED_SESSIONS,
    CONTROL_REQUESTS,
    CONTROL_DURATION,
    ACTOR_RESTARTS,
    TOKENS_HELD,
    TOKEN_REQUESTS,
    CONFIG_RELOADS,
)


def reason_class(reason: str) -> str:
    """The closed class of one blocked-tool reason text (one of ``REASON_CLASSES``)."""
    text = reason.lower()
    for prefix, cls in _REASON_PREFIXES:
        if text.startswith(prefix):
            return cls
    if "(denied by pattern" in text:
        return "denied"  # a deny pattern with its own reason text first
    if text.startswith("guardrail provider"):
        return "provider"
    return "other"


_REASON_PREFIXES = (
    ("malformed", "malformed"),
    ("denied by pattern", "denied"),
    ("not matched by any allowed", "not_allowed"),
    ("destructive", "destructive"),
    ("possibly destructive", "destructive"),
    ("open-world", "open_world"),
    ("possibly open-world", "open_world"),
    ("tool poisoning", "poisoning"),
    ("withheld:", "tool_change"),
)
