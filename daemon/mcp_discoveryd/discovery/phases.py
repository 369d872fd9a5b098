"""The three-phase parallel discovery: validate, separate, execute.

1. Validate every selected server with the server guardrails, through the
   ``guardrails.Guardrails`` seam: the built-in checks inline (they never wait),
   an external provider's calls in a task group, each under its own deadline.
2. Separate: blocked servers stop here; servers whose config lists their tools
   are served from config with no connection; the rest need discovery.
3. Execute both groups in parallel: tool guardrails (the same seam) on config
   tools, and for the others a fresh cached catalog (made from the same server
   definition; unless a refresh is asked for) or discovery, then the tool
   guardrails, which also run on every catalog served from the cache, so a
   policy change applies at once. An expired entry (within its grace) is
   refreshed; if the refresh fails, the old catalog is served marked stale. A
   server listed identically in several gateways is fetched once and its
   result shared.

The outcomes go to the cache (``record``), which alone decides what it keeps.

Every upstream failure is data (an outcome with an error): one server's hang,
crash or garbage never cancels or delays another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import anyio

from ..config.settings import DaemonConfig
from ..models import (
    CacheEntry,
    Catalog,
    DiscoveryReport,
    ErrorKind,
    JSONObject,
    ServerOutcome,
    ServerSpec,
    ToolChange,
    UpstreamError,
    UpstreamResult,
)
from ..secret import scrub, scrubbed_traceback
from ..telemetry import record, tracing
from ..telemetry.instruments import GATEWAY, SERVER, TRIGGER
from . import guardrails
from .guardrails import tooldiff
from .selection import CatalogCache, Fetcher, Selection, select

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[ServerOutcome], None]


async def run_discovery(
    config: DaemonConfig,
    fetcher: Fetcher,
    *,
    gateway_id: str | None = None,
    server_name: str | None = None,
    cache: CatalogCache | None = None,
    refresh: bool = False,
    on_progress: ProgressCallback | None = None,
    selections: Sequence[Selection] | None = None,
    checks: guardrails.Guardrails | None = None,
    trigger: str = "manual",
) -> DiscoveryReport:
    """Run the three phases over the selected servers and return every outcome.

    ``selections``: the caller's own ``select`` result, so that it runs once per run.
    ``checks`` are the guardrails to apply (default: the built-in ones alone).
    ``trigger`` (preload, reload, refresh, retry, manual, list_changed) labels its metrics
    and its span.
    """
    if selections is None:
        selections = select(config, gateway_id, server_name)
    attrs: dict[str, str | int] = {TRIGGER: trigger, "mcpd.servers": len(selections)}
    if len(selections) == 1:
        attrs |= {GATEWAY: selections[0].gateway.id, SERVER: selections[0].spec.name}
    with tracing.span("mcpd.discovery", attrs):
        run = _Run(fetcher, cache, refresh, on_progress, checks or guardrails.Guardrails(), trigger)
        return await _phases(run, selections)


async def _phases(run: _Run, selections: Sequence[Selection]) -> DiscoveryReport:
    """The three phases of one run."""
    started = time.monotonic()
    cache = run.cache

    # Phase 1: validate.
    with tracing.span("mcpd.validate"):
        violations = await run.checks.check_servers([sel.spec for sel in selections])

    # Phase 2: separate.
    from_config: list[Selection] = []
    to_discover: list[Selection] = []
    for index, sel in enumerate(selections):
        if violations[index]:
            run.finish(_blocked(sel, violations[index]))
        elif sel.spec.is_config_defined:
            from_config.append(sel)
        else:
            to_discover.append(sel)

    # Phase 3: execute both groups in parallel.
    with tracing.span("mcpd.execute"):
        async with anyio.create_task_group() as tg:
            for sel in from_config:
                tg.start_soon(run.traced, run.serve_from_config, sel)
            for sel in to_discover:
                tg.start_soon(run.traced, run.discover, sel)

    order = {(s.gateway.id, s.spec.name): i for i, s in enumerate(selections)}
    outcomes = sorted(run.outcomes, key=lambda o: order[(o.gateway_id, o.server_name)])
    if cache is not None:
        gateways = list({id(s.gateway): s.gateway for s in selections}.values())
        await cache.record(outcomes, gateways)
    return DiscoveryReport(tuple(outcomes), time.monotonic() - started)


class _Run:
    """State of one run: outcomes so far and the fetches shared between gateways."""

    def __init__(
        self,
        fetcher: Fetcher,
        cache: CatalogCache | None,
        refresh: bool,
        on_progress: ProgressCallback | None,
        checks: guardrails.Guardrails,
        trigger: str = "manual",
    ) -> None:
        self.trigger = trigger
        self.fetcher = fetcher
        self.checks = checks
        self.cache = cache
        self.refresh = refresh
        self.on_progress = on_progress
        self.outcomes: list[ServerOutcome] = []
        self._shared: dict[tuple[object, ...], _SharedFetch] = {}

    def finish(self, outcome: ServerOutcome) -> None:
        self.outcomes.append(outcome)
        record.discovery(outcome, self.trigger)
        if self.on_progress is not None:
            self.on_progress(outcome)

    async def traced(self, step: Callable[[Selection], Awaitable[None]], sel: Selection) -> None:
        """One server's step in a span of its own, with its outcome's MCP attributes."""
        key = (sel.gateway.id, sel.spec.name)
        with tracing.span("mcpd.server", {GATEWAY: key[0], SERVER: key[1]}) as span:
            await step(sel)
            if span is not None:
                done = next(
                    o for o in reversed(self.outcomes) if (o.gateway_id, o.server_name) == key
                )
                tracing.annotate(span, record.span_attributes(sel.spec, done))
                if done.error is not None and not done.ok:
                    tracing.fail(span, done.error.kind.value)

    async def serve_from_config(self, sel: Selection) -> None:
        started = time.monotonic()
        verdict = await self.checks.check_tools(sel.spec, sel.spec.tools or ())
        self.finish(
            ServerOutcome(
                gateway_id=sel.gateway.id,
                server_name=sel.spec.name,
                status="success",
                source="config",
                catalog=_catalog_with_tools(verdict.kept),
                blocked_tools=verdict.blocked,
                tool_warnings=verdict.warnings,
                duration_s=time.monotonic() - started,
            )
        )

    async def discover(self, sel: Selection) -> None:
        started = time.monotonic()
        cached: CacheEntry | None = None
        if self.cache is not None and not self.refresh:
            cached = await self.cache.catalog(sel.gateway.id, sel.spec)
            if cached is not None and cached.freshness(time.time()) == "fresh":
                self.finish(await self._from_cache(sel, cached, time.monotonic() - started))
                return
        result = await self._fetch_once(sel.spec)
        verdict = None
        if result.catalog is not None and result.error is None:
            verdict = await self.checks.check_tools(sel.spec, result.catalog.tools)
        outcome = _from_upstream(sel, result, verdict, time.monotonic() - started)
        if outcome.ok and result.catalog is not None:
            outcome = await self._review(sel, outcome, result.catalog.tools)
        if cached is not None and outcome.status == "error":
            # The refresh of an expired entry failed: serve the old catalog within its grace.
            outcome = await self._from_cache(
                sel, cached, outcome.duration_s, refresh_error=outcome.error
            )
        self.finish(outcome)

    async def _review(
        self, sel: Selection, outcome: ServerOutcome, listed: Sequence[JSONObject]
    ) -> ServerOutcome:
        """Rug-pull detection: the listing against the accepted set the cache holds.

        The whole listing is compared (a tool the guardrails block is not "removed");
        withholding applies to the tools the guardrails kept.
        """
        cache = self.cache
        held = await cache.held(sel.gateway.id, sel.spec.name) if cache is not None else None
        known = held.accepted_tools if held is not None else None
        review = tooldiff.review(known, listed, sel.spec.tool_policy.on_tool_change)
        _log_changes(sel, review.changes, held.tool_changes if held is not None else ())
        withheld = {b.name: b for b in review.withheld}
        kept = [t for t in outcome.catalog.tools if t.get("name") not in withheld]
        now_withheld = tuple(withheld[n] for n in _names(outcome.catalog.tools) if n in withheld)
        return replace(
            outcome,
            catalog=outcome.catalog.with_tools(tuple(kept)),
            blocked_tools=outcome.blocked_tools + now_withheld,
            accepted_tools=review.accepted,
            tool_changes=review.changes,
        )

    async def _fetch_once(self, spec: ServerSpec) -> UpstreamResult:
        """Fetch a spec, joining a fetch of an identical spec already in flight."""
        key = spec.identity()
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _SharedFetch()
            try:
                shared.result = await self.fetcher.fetch(spec)
            except Exception as exc:  # noqa: BLE001 - a fetcher bug must not cancel siblings; logged
                logger.error(  # the traceback scrubbed: its message may quote a secret
                    "discovery of %s failed unexpectedly:\n%s",
                    spec.name,
                    scrubbed_traceback(exc, spec.target.secrets()),
                )
                shared.result = UpstreamResult(
                    catalog=None,
                    error=UpstreamError(
                        ErrorKind.INTERNAL, scrub(f"internal error: {exc!r}", spec.target.secrets())
                    ),
                )
            finally:
                shared.done.set()
        await shared.done.wait()
        assert shared.result is not None
        return shared.result

    async def _from_cache(
        self,
        sel: Selection,
        entry: CacheEntry,
        duration: float,
        *,
        refresh_error: UpstreamError | None = None,
    ) -> ServerOutcome:
        """A cached catalog, checked again by today's tool policy (``refresh_error``: served stale)."""
        verdict = await self.checks.check_tools(sel.spec, entry.catalog.tools)
        policy = sel.spec.tool_policy.on_tool_change
        kept, withheld = tooldiff.withhold(verdict.kept, entry.tool_changes, policy)
        return ServerOutcome(
            gateway_id=sel.gateway.id,
            server_name=sel.spec.name,
            status="success",
            source="cache",
            catalog=entry.catalog.with_tools(kept),
            blocked_tools=entry.blocked_tools + verdict.blocked + withheld,
            tool_warnings=verdict.warnings,
            error=refresh_error,
            duration_s=duration,
            protocol_version=entry.protocol_version,
            server_info=entry.server_info,
            capabilities=entry.capabilities,
            stale=refresh_error is not None,
            tool_changes=entry.tool_changes,
        )


class _SharedFetch:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: UpstreamResult | None = None


def _log_changes(
    sel: Selection, changes: Sequence[ToolChange], known: Sequence[ToolChange]
) -> None:
    """Log each change once: those not pending already with the same definition."""
    before = {(c.tool, c.kind, c.current.hash if c.current else "") for c in known}
    policy = sel.spec.tool_policy.on_tool_change
    for change in changes:
        if (change.tool, change.kind, change.current.hash if change.current else "") in before:
            continue
        record.tool_changes(sel.gateway.id, sel.spec.name, (change,))
        action = "withheld until accepted" if policy == "block" and change.current else "served"
        if change.kind == "removed":
            action = "no longer listed"
        # The diff quotes upstream text, which may echo the server's own credentials.
        what = scrub(tooldiff.summary(change), sel.spec.target.secrets())
        logger.warning("tool change on %s/%s: %s (%s)", sel.gateway.id, sel.spec.name, what, action)


def _names(tools: Sequence[JSONObject]) -> list[str]:
    return [str(t.get("name", "")) for t in tools]


def _catalog_with_tools(tools: Sequence[JSONObject]) -> Catalog:
    return Catalog(tools=tuple(tools))


def _blocked(sel: Selection, violations: tuple[str, ...]) -> ServerOutcome:
    return ServerOutcome(
        gateway_id=sel.gateway.id,
        server_name=sel.spec.name,
        status="blocked",
        source="config",
        violations=violations,
        error=UpstreamError(ErrorKind.BLOCKED, "blocked by server guardrails"),
    )


def _from_upstream(
    sel: Selection, result: UpstreamResult, verdict: guardrails.ToolVerdict | None, duration: float
) -> ServerOutcome:
    outcome = ServerOutcome(
        gateway_id=sel.gateway.id,
        server_name=sel.spec.name,
        status="error",
        source="discovery",
        error=result.error,
        duration_s=duration,
        protocol_version=result.protocol_version,
        server_info=result.server_info,
        capabilities=result.capabilities,
        cache_hint=result.cache_hint,
        queued_s=result.durations.get("queue", 0.0),
    )
    if result.catalog is None or result.error is not None or verdict is None:
        if outcome.error is None:
            return replace(outcome, error=UpstreamError(ErrorKind.INTERNAL, "no catalog returned"))
        return outcome
    catalog = result.catalog.with_tools(tuple(verdict.kept))
    return replace(
        outcome,
        status="success",
        catalog=catalog,
        blocked_tools=verdict.blocked,
        tool_warnings=verdict.warnings,
    )
