"""Where the daemon records its metrics: one function per event, a no-op while telemetry is off.

Off (the default, and always in the one-shot CLI) each call is one global read and
a return: no OpenTelemetry import, no attribute dict built. ``install`` (from
``setup.py``) creates every instrument of ``instruments.INSTRUMENTS`` on a meter;
``uninstall`` turns recording off again. Observable gauges read the sources that
``observe`` registers, on the exporter's thread, at each collection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..models import RemoteTarget, ServerOutcome, ServerSpec, ToolChange, UpstreamResult
from . import instruments as i
from .instruments import Instrument

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation

logger = logging.getLogger(__name__)

Attributes = Mapping[str, str | int]
Source = Callable[[], Iterable[tuple[float, Attributes]]]

# PhaseClock's step names -> the MCP method each step is (``connect`` is the handshake).
_METHODS = {
    "connect": "initialize",
    "tools/list": "tools/list",
    "prompts/list": "prompts/list",
    "resources/list": "resources/list",
    "resources/templates/list": "resources/templates/list",
}


class _Recorder:
    """Every instrument created on one meter, and the gauges' sources."""

    def __init__(self, meter: Meter) -> None:
        self.sources: dict[str, Source] = {}
        self.made: dict[str, Any] = {}
        for spec in i.INSTRUMENTS:
            if spec.kind == "counter" and spec.observed:
                self.made[spec.name] = meter.create_observable_counter(
                    spec.name, [self._reader(spec.name)], spec.unit, spec.description
                )
            elif spec.kind == "counter":
                self.made[spec.name] = meter.create_counter(spec.name, spec.unit, spec.description)
            elif spec.kind == "histogram":
                self.made[spec.name] = meter.create_histogram(
                    spec.name,
                    spec.unit,
                    spec.description,
                    explicit_bucket_boundaries_advisory=spec.buckets,
                )
            else:
                self.made[spec.name] = meter.create_observable_gauge(
                    spec.name, [self._reader(spec.name)], spec.unit, spec.description
                )

    def _reader(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def read(_: CallbackOptions) -> Iterable[Observation]:
            from opentelemetry.metrics import Observation

            source = self.sources.get(name)
            if source is None:
                return []
            try:  # read on the exporter's thread while the loop runs: a resized dict may raise
                return [Observation(value, dict(attrs)) for value, attrs in source()]
            except Exception:
                logger.debug("gauge %s not read this time", name, exc_info=True)
                return []

        return read


_active: _Recorder | None = None


def install(meter: Meter) -> None:
    """Create every instrument on ``meter`` and start recording."""
    global _active
    _active = _Recorder(meter)


def uninstall() -> None:
    """Stop recording (the calls are no-ops again)."""
    global _active
    _active = None


def enabled() -> bool:
    """True while a meter is installed."""
    return _active is not None


def observe(spec: Instrument, source: Source) -> None:
    """Read ``source`` for the gauge or observed counter ``spec`` at each collection
    (replacing an earlier one)."""
    if _active is not None:
        _active.sources[spec.name] = source


def add(spec: Instrument, value: float, attrs: Attributes) -> None:
    """Add to a counter (or record on a histogram) with its declared attributes."""
    recorder = _active
    if recorder is None:
        return
    made = recorder.made[spec.name]
    if spec.kind == "counter":
        made.add(value, attrs)
    else:
        made.record(value, attrs)


def upstream_session(spec: ServerSpec, result: UpstreamResult) -> None:
    """One session with an upstream: each MCP request and the session, per the conventions."""
    if _active is None:
        return
    base: dict[str, str | int] = {i.SERVER: spec.name, i.TRANSPORT: "pipe"}
    if isinstance(spec.target, RemoteTarget):
        base |= _address(spec.target)
    if result.protocol_version:
        base[i.PROTOCOL] = result.protocol_version
    failed = {**base, i.ERROR_TYPE: result.error.kind.value} if result.error else base
    steps = [s for s in result.durations if s in _METHODS]
    for step in steps:
        # the last step ended is the one a failure came from
        attrs = failed if step == steps[-1] else base
        add(i.OPERATION_DURATION, result.durations[step], {**attrs, i.METHOD: _METHODS[step]})
    session = result.durations.get("total", 0.0) - result.durations.get("queue", 0.0)
    add(i.SESSION_DURATION, max(0.0, session), failed)
    if "queue" in result.durations:
        add(i.QUEUE_DURATION, result.durations["queue"], {i.SERVER: spec.name})


def discovery(outcome: ServerOutcome, trigger: str) -> None:
    """One server's discovery ended: its run, duration, tools listed and blocked."""
    if _active is None:
        return
    where = {i.GATEWAY: outcome.gateway_id, i.SERVER: outcome.server_name}
    run = {**where, i.OUTCOME: outcome_label(outcome), i.TRIGGER: trigger}
    add(i.DISCOVERY_RUNS, 1, run)
    add(i.DISCOVERY_DURATION, outcome.duration_s, run)
    if outcome.source == "discovery" and outcome.catalog is not None:
        listed = len(outcome.catalog.tools) + len(outcome.blocked_tools)
        add(i.TOOLS_DISCOVERED, listed, where)
    classes: dict[str, int] = {}
    for blocked in outcome.blocked_tools:
        for cls in {i.reason_class(r) for r in blocked.reasons}:
            classes[cls] = classes.get(cls, 0) + 1
    for cls, count in classes.items():
        add(i.TOOLS_BLOCKED, count, {**where, i.REASON: cls})


def tool_changes(gateway: str, server: str, changes: Sequence[ToolChange]) -> None:
    """Newly detected tool definition changes."""
    for change in changes:
        add(i.TOOL_CHANGES, 1, {i.GATEWAY: gateway, i.SERVER: server, i.CHANGE: change.kind})


def refresh_lead(gateway: str, server: str, trigger: str, seconds: float) -> None:
    """A refresh of an entry landed ``seconds`` before it expired (negative: after); recorded
    as how far from expiry, and which side (a histogram takes no negative values)."""
    timing = "ahead" if seconds >= 0 else "late"
    attrs = {i.GATEWAY: gateway, i.SERVER: server, i.TRIGGER: trigger, i.TIMING: timing}
    add(i.REFRESH_LEAD, abs(seconds), attrs)


def lease(gateway: str, server: str, *, acquired: bool) -> None:
    """One lease request across daemons."""
    result = "acquired" if acquired else "contended"
    add(i.LEASES, 1, {i.GATEWAY: gateway, i.SERVER: server, i.LEASE: result})


def actor_restart(gateway: str, server: str) -> None:
    """A server actor crashed and is restarted."""
    add(i.ACTOR_RESTARTS, 1, {i.GATEWAY: gateway, i.SERVER: server})


def config_reload(ok: bool) -> None:
    """A reload was applied (or refused: invalid config)."""
    add(i.CONFIG_RELOADS, 1, {i.OUTCOME: "success" if ok else "error"})


def record_control_request(route: str, method: str, status: int, seconds: float) -> None:
    """One control socket request; ``route`` is the route's template (``/v1/servers/{name}``),
    never the raw path, so the attribute stays bounded."""
    if _active is None:
        return
    attrs: dict[str, str | int] = {i.ROUTE: route, i.HTTP_METHOD: method, i.STATUS: status}
    add(i.CONTROL_REQUESTS, 1, attrs)
    add(i.CONTROL_DURATION, seconds, attrs)


class CacheListener:
    """The cache's ``StatsListener``: its backend operations, as they happen (lookups are
    read from its counters at each collection: ``bind.py``)."""

    def on_request(self, cache_type: object, tier: str, result: str, reader: str) -> None:
        """One lookup: counted by the cache itself, observed at collection."""

    def on_operation(self, operation: str, backend: str, seconds: float, ok: bool) -> None:
        """One backend round trip."""
        attrs: dict[str, str | int] = {i.OPERATION: operation, i.BACKEND: backend}
        if not ok:
            attrs[i.ERROR_TYPE] = "error"
        add(i.CACHE_DURATION, seconds, attrs)


def span_attributes(spec: ServerSpec, outcome: ServerOutcome) -> dict[str, str | int]:
    """A server span's attributes: the MCP conventions' and the outcome (all bounded)."""
    attrs: dict[str, str | int] = {i.TRANSPORT: "pipe", i.OUTCOME: outcome_label(outcome)}
    if isinstance(spec.target, RemoteTarget):
        attrs |= _address(spec.target)
    if outcome.protocol_version:
        attrs[i.PROTOCOL] = outcome.protocol_version
    attrs["mcpd.source"] = outcome.source
    if outcome.catalog is not None:
        attrs["mcpd.tools"] = len(outcome.catalog.tools)
    return attrs


def outcome_label(outcome: ServerOutcome) -> str:
    """success, stale (served from cache after a failed refresh), error or blocked."""
    if outcome.status == "success" and outcome.stale:
        return "stale"
    return str(outcome.status)


def _address(target: RemoteTarget) -> dict[str, str | int]:
    """server.address/port of a remote server (host and port only: no credentials)."""
    parts = urlsplit(target.url.reveal())
    out: dict[str, str | int] = {i.TRANSPORT: "tcp"}
    if parts.hostname:
        out[i.ADDRESS] = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    out[i.PORT] = port
    return out
