"""Reload: read the config again; if valid, start, stop or update only the actors that changed.

A server is unchanged when its ``ServerSpec`` is equal: its actor keeps running, and
if only its gateway changed (another server added beside it) it is told so without a
discovery. A changed server's actor is replaced: it discovers, unless a fresh entry
made from the same definition exists (a tool policy change alone), and reads pass
the new policy at once either way (``api.catalog``). A removed server's actor stops and its entry
is cleared; a removed gateway's config entry too. An actor marked failed (a crash
loop) is restarted even when unchanged: a reload is how an operator retries it.
An invalid file changes nothing: the error is logged and kept for status until a
reload succeeds.

[discovery], [cache], [telemetry] and [guardrails.provider] changes need a restart (the
client, the cache, the exporter and the provider's client are open); they are reported
and the running ones kept.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import anyio

from . import heartbeat
from .configured import check_configured
from .discovery.selection import Selection, select
from .errors import CacheBusyError, ConfigError
from .telemetry import record

if TYPE_CHECKING:
    from .app import Daemon
    from .cache import Cache

logger = logging.getLogger(__name__)

# What is open while the daemon runs (the client, the cache, the exporter, the guardrail
# provider's client): (DaemonConfig attribute, the section as written).
_AT_RESTART = (
    ("discovery", "discovery"),
    ("cache", "cache"),
    ("telemetry", "telemetry"),
    ("guardrail_provider", "guardrails.provider"),
)


async def apply_reload(daemon: Daemon) -> dict[str, object]:
    """Load ``daemon.config.path`` again and apply it; the reply says what changed.

    A ready daemon tells the service manager (``RELOADING=1`` ... ``READY=1``); not one
    still preloading, where a ``READY=1`` would end its start early.
    """
    told = daemon.phase == "ready"
    if told:
        daemon.notifier.reloading()
    try:
        return await _apply(daemon)
    finally:
        if told and daemon.accepting:  # not when a stop came meanwhile: STOPPING stands
            daemon.notifier.ready(heartbeat.status_line(daemon))


async def _apply(daemon: Daemon) -> dict[str, object]:
    old = daemon.config
    try:
        new = await anyio.to_thread.run_sync(daemon.loader, old.path)
    except ConfigError as exc:
        daemon.reload_error = str(exc)
        record.config_reload(ok=False)
        logger.error("reload: invalid config, still running on the previous one\n%s", exc)
        return {"status": "error", "message": str(exc)}
    notes: list[str] = []
    for section, shown in _AT_RESTART:
        if getattr(new, section) != getattr(old, section):
            notes.append(f"[{shown}] changed: takes effect at the next restart")
    new = dataclasses.replace(new, **{section: getattr(old, section) for section, _ in _AT_RESTART})
    before = {(s.gateway.id, s.spec.name): s for s in select(old)}
    after = {(s.gateway.id, s.spec.name): s for s in select(new)}
    actors, cache = daemon.actors, daemon.cache
    daemon.config = new
    daemon.deps = dataclasses.replace(daemon.deps, config=new)

    removed = sorted(before.keys() - after.keys())
    for key in removed:
        if key in actors.handles:
            await actors.stop(key)
        await _forget(cache, key[0], key[1], "server_config")
    for gateway_id in sorted({g.id for g in old.gateways} - {g.id for g in new.gateways}):
        await _forget(cache, gateway_id, None, "gateway_config")

    added: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    config_defined: list[Selection] = []
    restarted: list[tuple[str, str]] = []
    for key, sel in after.items():
        prev = before.get(key)
        failed = key in actors.handles and actors.handles[key].state.phase == "failed"
        if prev is not None and prev.spec == sel.spec and not failed:
            if prev.gateway != sel.gateway and key in actors.handles:
                actors.update(key, sel)
            continue
        if failed and prev is not None and prev.spec == sel.spec:
            restarted.append(key)  # a reload is how an operator retries a failed actor
            await actors.stop(key)
            await actors.start(sel, daemon.deps, first="reload")
            continue
        (changed if prev is not None else added).append(key)
        if key in actors.handles:
            await actors.stop(key)
        if sel.spec.is_config_defined:
            config_defined.append(sel)
        else:
            await actors.start(sel, daemon.deps, first="reload")
    await check_configured(daemon, config_defined)
    await cache.record([], new.gateways)

    daemon.reload_error = None
    record.config_reload(ok=True)
    summary = {
        "added": sorted(f"{g}/{s}" for g, s in added),
        "changed": sorted(f"{g}/{s}" for g, s in changed),
        "removed": [f"{g}/{s}" for g, s in removed],
        "restarted": sorted(f"{g}/{s}" for g, s in restarted),
    }
    for note in notes:
        logger.warning("reload: %s", note)
    logger.info(
        "reload: %d added, %d changed, %d removed, %d unchanged",
        len(added),
        len(changed),
        len(removed),
        len(after) - len(added) - len(changed),
    )
    return {"status": "success", "reloaded_at": time.time(), **summary, "notes": notes}


async def _forget(cache: Cache, gateway_id: str, server_name: str | None, what: str) -> None:
    """Clear what a reload removed; a Redis pool busy past ``busy_wait`` leaves Redis's copy
    to expire (the reload goes on: the config is already the new one)."""
    try:
        await cache.clear(gateway_id, server_name, what)
    except CacheBusyError as exc:
        logger.warning(
            "reload: %s of %s/%s left in the cache: %s", what, gateway_id, server_name, exc
        )
