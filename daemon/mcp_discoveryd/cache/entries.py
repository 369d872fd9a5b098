"""Building cache entries: lifetimes, refresh times, content hashes, secret-free summaries.

Lifetimes: the configured TTL (tools 4 h, gateway config 24 h by default); an
upstream's ``ttlMs`` hint can only shorten it, never below ``min_ttl``. An
entry is refreshed at about 80 % of its TTL (75-85 %, uniformly jittered so
that entries fetched together do not refresh together), expires at the TTL,
and is served stale for ``stale_grace`` more while refreshes fail.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import random
from dataclasses import replace

from ..config.settings import CacheSettings, GatewayConfig
from ..models import (
    CacheEntry,
    CacheHint,
    CacheType,
    Catalog,
    JSONObject,
    RemoteTarget,
    ServerOutcome,
    ServerSpec,
    UpstreamError,
)
from ..secret import url_without_secrets

REFRESH_AT = 0.80  # fraction of the TTL
REFRESH_JITTER = 0.05  # +/- fraction of the TTL


def effective_ttl(configured: float, hint: CacheHint, min_ttl: float) -> float:
    """The configured TTL, shortened (never lengthened) by an upstream hint floored at min_ttl."""
    if hint.ttl_s is None:
        return configured
    return min(configured, max(hint.ttl_s, min_ttl))


def content_hash(value: object) -> str:
    """A stable digest of a JSON value (key order and spacing do not matter)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def catalog_hash(catalog: Catalog) -> str:
    """The content hash of everything a server offers."""
    return content_hash(
        {
            "tools": catalog.tools,
            "prompts": catalog.prompts,
            "resources": catalog.resources,
            "resource_templates": catalog.resource_templates,
        }
    )


def entry_from_outcome(
    outcome: ServerOutcome,
    settings: CacheSettings,
    *,
    now: float,
    definition: str = "",
    policy: str = "",
    rng: random.Random | None = None,
) -> CacheEntry:
    """The tools entry for a successful outcome; ValueError for a failed or cached one.

    ``definition`` and ``policy``: fingerprints of the server definition and tool policy.
    """
    if not outcome.ok or outcome.source == "cache":
        raise ValueError(
            f"only fresh successful outcomes are cached ({outcome.server_name}: "
            f"status {outcome.status}, source {outcome.source})"
        )
    ttl = effective_ttl(settings.tool_ttl, outcome.cache_hint, settings.min_ttl)
    jitter = (rng or random).uniform(-REFRESH_JITTER, REFRESH_JITTER)
    return CacheEntry(
        cache_type=CacheType.TOOLS,
        gateway_id=outcome.gateway_id,
        server_name=outcome.server_name,
        source=outcome.source,
        fetched_at=now,
        refresh_at=now + ttl * (REFRESH_AT + jitter),
        expires_at=now + ttl,
        stale_until=now + ttl + settings.stale_grace,
        catalog=outcome.catalog,
        server_info=outcome.server_info,
        protocol_version=outcome.protocol_version,
        capabilities=outcome.capabilities,
        blocked_tools=outcome.blocked_tools,
        content_hash=catalog_hash(outcome.catalog),
        private=outcome.cache_hint.private,
        definition=definition,
        policy=policy,
        accepted_tools=outcome.accepted_tools,
        tool_changes=outcome.tool_changes,
    )


def entry_with_failure(entry: CacheEntry, error: UpstreamError) -> CacheEntry:
    """The same good data, with a failed refresh recorded (a failure never replaces data)."""
    return replace(entry, last_error=error, consecutive_failures=entry.consecutive_failures + 1)


def gateway_config_entry(
    gateway: GatewayConfig, settings: CacheSettings, *, now: float
) -> CacheEntry:
    """The gateway config entry: a summary with no secrets (no env, headers, args or URL auth)."""
    summary: JSONObject = {
        "id": gateway.id,
        "name": gateway.name,
        "servers": [_server_summary(spec) for spec in gateway.servers],
    }
    ttl = settings.config_ttl
    return CacheEntry(
        cache_type=CacheType.GATEWAY_CONFIG,
        gateway_id=gateway.id,
        server_name=None,
        source="config",
        fetched_at=now,
        refresh_at=now + ttl * REFRESH_AT,
        expires_at=now + ttl,
        stale_until=now + ttl + settings.stale_grace,
        content_hash=content_hash(summary),
        gateway_config=summary,
    )


def _server_summary(spec: ServerSpec) -> JSONObject:
    target = spec.target
    out: JSONObject = {
        "name": spec.name,
        "description": spec.description,
        "transport": target.transport.value,
        "tools_defined": spec.is_config_defined,
        "tool_count": len(spec.tools or ()),
    }
    if isinstance(target, RemoteTarget):
        out["url"] = url_without_secrets(target.url.reveal())  # no user:password@, no query tokens
    else:
        out["command"] = posixpath.basename(target.command)  # args may carry secrets
    return out


def failed_attempt(outcome: ServerOutcome) -> bool:
    """True when the outcome is a failed attempt to reach the upstream (not a block)."""
    return outcome.status != "blocked" and (outcome.source == "discovery" or outcome.stale)
