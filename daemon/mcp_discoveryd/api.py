"""The in-process API of a running daemon: what the control socket will serve.

``catalog`` is a lookup of an immutable entry in memory (no actor round trip);
``discover`` asks the server actors, so it joins a discovery already in flight;
``status``, ``clear`` and ``reload`` act on the daemon as a whole; ``accept``
accepts changed tool definitions (rug-pull detection, ``discovery/guardrails/tooldiff``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import anyio

from .actors.coordination import exclusive
from .actors.messages import interrupted
from .app import Daemon
from .auth.clearing import clear_tokens, is_token_type
from .cache.fingerprint import policy_fingerprint
from .config.settings import DaemonConfig
from .daemon_status import StatusRows
from .discovery.guardrails import check_tools, tooldiff
from .discovery.phases import run_discovery
from .discovery.selection import select
from .errors import NotAccepting, UnknownTargetError
from .models import (
    CacheEntry,
    CacheType,
    DiscoveryReport,
    JSONObject,
    ServerOutcome,
    ServerSpec,
)


class DaemonApi:
    """Status, catalogs, discover, clear and reload over one running ``Daemon``."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        # per server: (the entry read, the spec it was checked under, what is served)
        self._checked: dict[tuple[str, str], tuple[CacheEntry, ServerSpec, CacheEntry]] = {}
        self._indexed: DaemonConfig | None = None  # the config ``_specs`` was built from
        self._specs: dict[tuple[str, str], ServerSpec] = {}
        self._status = StatusRows(daemon)

    @property
    def config(self) -> DaemonConfig:
        """The running daemon's config (replaced whole by a reload)."""
        return self._daemon.config

    def catalog(
        self, gateway_id: str, server_name: str, *, counted: bool = True
    ) -> CacheEntry | None:
        """The server's entry made from its current definition (fresh or stale), or None.

        Its tools pass today's tool policy on the way out (and, under ``on_tool_change =
        "block"``, its pending changes are withheld) (an entry made under a looser
        policy, by this daemon before a reload or by another one sharing Redis, never
        serves what the policy now blocks); the check is kept per entry object, so a
        read of an unchanged entry costs a lookup. An external provider's verdicts
        apply at discovery. A read of a discovered server's catalog counts as a gateway's
        cache request (hit, stale or miss) unless ``counted`` is False (a listing's
        glance at every server); a config-defined one is not a cache read.
        """
        daemon = self._daemon
        key = (gateway_id, server_name)
        spec = self._spec(key)
        if spec is None:
            return None
        if spec.is_config_defined:
            return daemon.config_entries.get(key)
        served = self._served(key, spec)
        if counted:
            daemon.cache.count_read(CacheType.TOOLS, served, tier="memory", reader="gateway")
        return served

    def _served(self, key: tuple[str, str], spec: ServerSpec) -> CacheEntry | None:
        """The held entry as ``catalog`` serves it under ``spec``, or None."""
        cache = self._daemon.cache
        entry = cache.lookup(CacheType.TOOLS, *key)
        if entry is None:
            return None
        checked = self._checked.get(key)
        if checked is not None and checked[0] is entry and checked[1] is spec:
            return checked[2]  # this entry passed under this very definition and policy
        if entry.definition != cache.fingerprint(spec):
            return None
        if entry.blocked_tools and entry.policy != policy_fingerprint(spec.tool_policy):
            return None
        verdict = check_tools(entry.catalog.tools, spec.tool_policy)
        policy = spec.tool_policy.on_tool_change
        kept, withheld = tooldiff.withhold(verdict.kept, entry.tool_changes, policy)
        served = entry
        if verdict.blocked or withheld:
            served = replace(
                entry,
                catalog=entry.catalog.with_tools(kept),
                blocked_tools=entry.blocked_tools + tuple(verdict.blocked) + withheld,
            )
        self._checked[key] = (entry, spec, served)  # one slot per server: replaced, not grown
        return served

    def _spec(self, key: tuple[str, str]) -> ServerSpec | None:
        """The server's definition in the running config (indexed once per config object)."""
        config = self._daemon.config
        if config is not self._indexed:
            self._specs = {(g.id, s.name): s for g in config.gateways for s in g.servers}
            self._indexed = config
        return self._specs.get(key)

    async def discover(
        self, gateway_id: str | None = None, server_name: str | None = None, *, refresh: bool = True
    ) -> DiscoveryReport:
        """Discover one server, a gateway or all; joins discoveries already in flight.

        Unknown names raise ``UnknownTargetError``; ``NotAccepting`` once stopping.
        """
        daemon = self._daemon
        if not daemon.accepting:
            raise NotAccepting("the daemon is stopping")
        started = time.monotonic()
        chosen = select(daemon.config, gateway_id, server_name)
        outcomes: dict[tuple[str, str], ServerOutcome] = {}
        handles = daemon.actors.handles

        async def ask(key: tuple[str, str]) -> None:
            outcomes[key] = await daemon.actors.ask(key, refresh)

        async with anyio.create_task_group() as tg:
            for sel in chosen:
                key = (sel.gateway.id, sel.spec.name)
                if key in handles:
                    tg.start_soon(ask, key)
            rest = [s for s in chosen if (s.gateway.id, s.spec.name) not in handles]
            if rest:
                report = await run_discovery(
                    daemon.config,
                    daemon.deps.fetcher,
                    cache=daemon.cache,
                    checks=daemon.deps.checks,
                    selections=rest,
                )
                outcomes.update({(o.gateway_id, o.server_name): o for o in report.outcomes})
        ordered = [
            outcomes.get((s.gateway.id, s.spec.name)) or interrupted(s, "no answer") for s in chosen
        ]
        return DiscoveryReport(tuple(ordered), time.monotonic() - started)

    async def status(self, gateway_id: str | None = None) -> JSONObject:
        """The daemon's state, every server's, and the cache status (one gateway's entries).

        One pass over memory, no actor round trip (``status.StatusRows``). The rows are
        shared with later answers: read them, never change them.
        """
        return await self._status.status(gateway_id)

    async def status_json(self, gateway_id: str | None = None) -> bytes:
        """``status`` as JSON text, each server's row encoded once per change."""
        return await self._status.encoded(gateway_id)

    async def clear(
        self,
        gateway_id: str | None = None,
        server_name: str | None = None,
        cache_type: str | None = None,
        *,
        forget_logins: bool = False,
    ) -> JSONObject:
        """Clear entries (the cache's own reply); actors whose entry is gone rediscover it now.

        ``cache_type`` "tokens": drop the OAuth access tokens in scope instead
        (``auth/clearing.py``; ``forget_logins`` also drops stored logins).
        """
        daemon = self._daemon
        if is_token_type(cache_type):
            return await clear_tokens(
                daemon.tokens, daemon.config, gateway_id, server_name, forget_logins=forget_logins
            )
        try:
            return await daemon.cache.clear(
                gateway_id, server_name, cache_type, gateways=daemon.config.gateways
            )
        finally:  # memory is cleared before Redis is asked (which may fail): rediscover now
            for key in list(daemon.actors.handles):
                daemon.actors.nudge(key)

    async def accept(
        self, gateway_id: str, server_name: str, tool_name: str | None = None
    ) -> JSONObject:
        """Accept the current definition of one changed tool (None: every pending change).

        The accepted set is stored in the server's entry (shared through Redis). A discovery
        in flight here is joined first, and one in another daemon is waited for (the key's
        lease): neither can write back the set it read before, and the change is made to
        the newest entry. Withheld tools are then discovered again and served.
        ``UnknownTargetError`` for an unknown server, or a tool with no pending change.
        """
        (sel,) = select(self._daemon.config, gateway_id, server_name)  # unknown names raise
        await self.discover(gateway_id, server_name, refresh=False)
        cache, deps = self._daemon.cache, self._daemon.deps
        lease_ttl = deps.settings.lease_ttl
        wait_limit = sel.spec.timeout + lease_ttl
        async with exclusive(
            deps.coordinator, cache, sel, lease_ttl=lease_ttl, wait_limit=wait_limit
        ) as entry:
            pending = entry.tool_changes if entry is not None else ()
            if tool_name is not None and tool_name not in {c.tool for c in pending}:
                known = [c.tool for c in pending]
                raise UnknownTargetError("pending tool change", tool_name, known)
            if entry is None or not pending:
                return {"accepted": [], "pending": [], "rediscovered": False}
            accepted, left = tooldiff.accept(entry.accepted_tools or (), pending, tool_name)
            chosen = [c.tool for c in pending if c not in left]
            await cache.put_many([replace(entry, accepted_tools=accepted, tool_changes=left)])
        withheld = {b.name for b in entry.blocked_tools} & set(chosen)
        if withheld:
            await self.discover(gateway_id, server_name, refresh=True)
        return {
            "accepted": chosen,
            "pending": [c.tool for c in left],
            "rediscovered": bool(withheld),
        }

    async def reload(self) -> dict[str, object]:
        """Reload the config file (as SIGHUP does); the reply says what changed or why not."""
        return await self._daemon.reload()
