"""The three-phase parallel discovery: validate, separate, execute.

1. Validate every selected server in parallel with the server guardrails.
2. Separate: blocked servers stop here; servers whose config lists their tools
   are served from config with no connection; cached entries are served from
   the cache (unless a refresh is asked for); the rest need discovery.
3. Execute both groups in parallel: tool guardrails on config tools, and
   discovery plus tool guardrails for the others. A server listed identically
   in several gateways is fetched once and its result shared.

Every upstream failure is data (an outcome with an error): one server's hang,
crash or garbage never cancels or delays another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import anyio

from ..config.model import DaemonConfig, GatewayConfig
from ..errors import UnknownTargetError
from ..models import (
    CacheEntry,
    CacheType,
    Catalog,
    DiscoveryReport,
    ErrorKind,
    JSONObject,
    ServerOutcome,
    ServerSpec,
    UpstreamError,
    UpstreamResult,
)
from . import guardrails

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[ServerOutcome], None]


class Fetcher(Protocol):
    """Anything that can list one upstream's catalog (the real one is UpstreamClient)."""

    async def fetch(self, spec: ServerSpec) -> UpstreamResult: ...


class CatalogCache(Protocol):
    """The part of the cache that discovery reads and writes."""

    async def get(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None
    ) -> CacheEntry | None: ...

    async def put_many(self, entries: Sequence[CacheEntry]) -> None: ...


@dataclass(frozen=True, slots=True)
class Selection:
    """One (gateway, server) pair chosen for a run."""

    gateway: GatewayConfig
    spec: ServerSpec


def select(
    config: DaemonConfig, gateway_id: str | None = None, server_name: str | None = None
) -> list[Selection]:
    """The (gateway, server) pairs a run covers; unknown names raise UnknownTargetError."""
    gateways = list(config.gateways)
    if gateway_id is not None:
        gateway = config.gateway(gateway_id)
        if gateway is None:
            raise UnknownTargetError("gateway", gateway_id, [g.id for g in config.gateways])
        gateways = [gateway]
    chosen = [Selection(g, s) for g in gateways for s in g.servers]
    if server_name is not None:
        chosen = [sel for sel in chosen if sel.spec.name == server_name]
        if not chosen:
            known = {s.name for g in gateways for s in g.servers}
            raise UnknownTargetError("server", server_name, sorted(known))
    return chosen


async def run_discovery(
    config: DaemonConfig,
    fetcher: Fetcher,
    *,
    gateway_id: str | None = None,
    server_name: str | None = None,
    cache: CatalogCache | None = None,
    refresh: bool = False,
    on_progress: ProgressCallback | None = None,
) -> DiscoveryReport:
    """Run the three phases over the selected servers and return every outcome."""
    started = time.monotonic()
    selections = select(config, gateway_id, server_name)
    run = _Run(fetcher, cache, refresh, on_progress)

    # Phase 1: validate.
    violations: dict[int, tuple[str, ...]] = {}
    async with anyio.create_task_group() as tg:
        for index, sel in enumerate(selections):
            tg.start_soon(run.validate, sel, index, violations)

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
    async with anyio.create_task_group() as tg:
        for sel in from_config:
            tg.start_soon(run.serve_from_config, sel)
        for sel in to_discover:
            tg.start_soon(run.discover, sel)

    if cache is not None:
        gateways = list({id(s.gateway): s.gateway for s in selections}.values())
        await run.write_back(config, gateways, cache)
    order = {(s.gateway.id, s.spec.name): i for i, s in enumerate(selections)}
    outcomes = sorted(run.outcomes, key=lambda o: order[(o.gateway_id, o.server_name)])
    return DiscoveryReport(tuple(outcomes), time.monotonic() - started)


class _Run:
    """State of one run: outcomes so far and the fetches shared between gateways."""

    def __init__(
        self,
        fetcher: Fetcher,
        cache: CatalogCache | None,
        refresh: bool,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.fetcher = fetcher
        self.cache = cache
        self.refresh = refresh
        self.on_progress = on_progress
        self.outcomes: list[ServerOutcome] = []
        self._shared: dict[tuple[object, ...], _SharedFetch] = {}

    def finish(self, outcome: ServerOutcome) -> None:
        self.outcomes.append(outcome)
        if self.on_progress is not None:
            self.on_progress(outcome)

    async def validate(self, sel: Selection, index: int, into: dict[int, tuple[str, ...]]) -> None:
        into[index] = guardrails.check_server(sel.spec)
        await anyio.lowlevel.checkpoint()

    async def serve_from_config(self, sel: Selection) -> None:
        started = time.monotonic()
        verdict = guardrails.check_tools(sel.spec.tools or (), sel.spec.tool_policy)
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
        if self.cache is not None and not self.refresh:
            entry = await self.cache.get(CacheType.TOOLS, sel.gateway.id, sel.spec.name)
            if entry is not None:
                self.finish(_from_cache(sel, entry, time.monotonic() - started))
                return
        result = await self._fetch_once(sel.spec)
        self.finish(_from_upstream(sel, result, time.monotonic() - started))

    async def _fetch_once(self, spec: ServerSpec) -> UpstreamResult:
        """Fetch a spec, joining a fetch of an identical spec already in flight."""
        key = spec.identity()
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _SharedFetch()
            try:
                shared.result = await self.fetcher.fetch(spec)
            except Exception as exc:  # a bug in a fetcher must not cancel sibling servers
                logger.exception("discovery of %s failed unexpectedly", spec.name)
                shared.result = UpstreamResult(
                    catalog=None,
                    error=UpstreamError(ErrorKind.INTERNAL, f"internal error: {exc!r}"),
                )
            finally:
                shared.done.set()
        await shared.done.wait()
        assert shared.result is not None
        return shared.result

    async def write_back(
        self, config: DaemonConfig, gateways: Sequence[GatewayConfig], cache: CatalogCache
    ) -> None:
        """Store what this run learnt; failures never replace cached good data.

        Each gateway the run covered gets its (secret-free) config entry too.
        """
        from ..cache import entry_from_outcome, gateway_config_entry

        now = time.time()
        entries = [gateway_config_entry(gw, config.cache, now=now) for gw in gateways]
        entries += [
            entry_from_outcome(o, config.cache, now=now)
            for o in self.outcomes
            if o.ok and o.source == "discovery"
        ]
        await cache.put_many(entries)


class _SharedFetch:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: UpstreamResult | None = None


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


def _from_upstream(sel: Selection, result: UpstreamResult, duration: float) -> ServerOutcome:
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
    if result.catalog is None or result.error is not None:
        if outcome.error is None:
            return replace(outcome, error=UpstreamError(ErrorKind.INTERNAL, "no catalog returned"))
        return outcome
    verdict = guardrails.check_tools(result.catalog.tools, sel.spec.tool_policy)
    catalog = replace(result.catalog, tools=tuple(verdict.kept))
    return replace(
        outcome,
        status="success",
        catalog=catalog,
        blocked_tools=verdict.blocked,
        tool_warnings=verdict.warnings,
    )


def _from_cache(sel: Selection, entry: CacheEntry, duration: float) -> ServerOutcome:
    return ServerOutcome(
        gateway_id=sel.gateway.id,
        server_name=sel.spec.name,
        status="success",
        source="cache",
        catalog=entry.catalog,
        blocked_tools=entry.blocked_tools,
        duration_s=duration,
        protocol_version=entry.protocol_version,
        server_info=entry.server_info,
        capabilities=entry.capabilities,
    )
