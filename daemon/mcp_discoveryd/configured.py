"""Servers whose tools are in the config: checked by the guardrails, served with no actor.

Their checked catalogs are entries of their own (``source = "config"``, never
expiring, never stored in a shared cache: every daemon has the config), kept by
the daemon in one mapping replaced whole at start and reload, so a reader never
sees it half-made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .cache.entries import catalog_hash
from .discovery.phases import run_discovery
from .discovery.selection import Selection
from .models import CacheEntry, CacheType, ServerOutcome, ServerSpec

if TYPE_CHECKING:
    from .app import Daemon

Key = tuple[str, str]


def config_entry(outcome: ServerOutcome, definition: str, *, now: float) -> CacheEntry:
    """The entry of a config-defined server's checked tools (it never expires)."""
    return CacheEntry(
        cache_type=CacheType.TOOLS,
        gateway_id=outcome.gateway_id,
        server_name=outcome.server_name,
        source="config",
        fetched_at=now,
        refresh_at=math.inf,
        expires_at=math.inf,
        stale_until=math.inf,
        catalog=outcome.catalog,
        blocked_tools=outcome.blocked_tools,
        content_hash=catalog_hash(outcome.catalog),
        definition=definition,
    )


async def check_configured(daemon: Daemon, selections: Sequence[Selection]) -> None:
    """The three phases for these config-defined servers; their entries replace the old ones.

    Entries of servers no longer config-defined in ``daemon.config`` are dropped.
    """
    kept: dict[Key, CacheEntry] = {
        key: entry
        for key, entry in daemon.config_entries.items()
        if (spec := _spec(daemon, key)) is not None and spec.is_config_defined
    }
    if selections:
        report = await run_discovery(
            daemon.config,
            daemon.deps.fetcher,
            cache=daemon.cache,
            selections=selections,
            checks=daemon.deps.checks,
            trigger="preload" if daemon.phase == "preloading" else "reload",
        )
        now = time.time()
        specs = {(s.gateway.id, s.spec.name): s.spec for s in selections}
        for outcome in report.outcomes:
            key = (outcome.gateway_id, outcome.server_name)
            kept.pop(key, None)
            if outcome.ok:
                definition = daemon.cache.fingerprint(specs[key])
                kept[key] = config_entry(outcome, definition, now=now)
    daemon.config_entries = kept


def _spec(daemon: Daemon, key: Key) -> ServerSpec | None:
    gateway = daemon.config.gateway(key[0])
    return gateway.server(key[1]) if gateway is not None else None
