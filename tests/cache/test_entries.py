"""Building entries: TTLs and hints, refresh-ahead jitter, grace, hashes, secret-free configs."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from tests.cache.builders import HOUR, catalog

from mcp_discoveryd.cache import (
    catalog_hash,
    effective_ttl,
    entry_from_outcome,
    entry_with_failure,
    gateway_config_entry,
)
from mcp_discoveryd.config.settings import CacheSettings, GatewayConfig
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.models import (
    CacheHint,
    CacheType,
    Catalog,
    ErrorKind,
    ServerOutcome,
    ServerSpec,
    StdioTarget,
    UpstreamError,
)
from mcp_discoveryd.secret import Secret

NOW = 1_800_000_000.0


def outcome(hint: CacheHint | None = None, **fields: Any) -> ServerOutcome:
    values: dict[str, Any] = {
        "gateway_id": "gw",
        "server_name": "srv",
        "status": "success",
        "source": "discovery",
        "catalog": catalog(),
        "cache_hint": hint or CacheHint(),
        "protocol_version": "2025-06-18",
        "server_info": {"name": "srv", "version": "1"},
    }
    values.update(fields)
    return ServerOutcome(**values)


def test_default_tool_ttl_and_grace() -> None:
    """Without a hint, an entry expires after tool_ttl and is served stale for stale_grace more."""
    settings = CacheSettings(tool_ttl=4 * HOUR, stale_grace=HOUR)
    e = entry_from_outcome(outcome(), settings, now=NOW)
    assert e.cache_type is CacheType.TOOLS
    assert e.fetched_at == NOW
    assert e.expires_at == NOW + 4 * HOUR
    assert e.stale_until == NOW + 5 * HOUR


def test_configured_ttl_in_any_unit_is_used() -> None:
    """A TTL configured as 90 s (the loader turns any unit into seconds) gives a 90 s entry."""
    e = entry_from_outcome(outcome(), CacheSettings(tool_ttl=90.0, min_ttl=10), now=NOW)
    assert e.expires_at - e.fetched_at == 90.0


def test_hint_shortens_the_ttl() -> None:
    """An upstream ttlMs hint shorter than the configured TTL wins."""
    e = entry_from_outcome(outcome(CacheHint(ttl_s=600)), CacheSettings(), now=NOW)
    assert e.expires_at == NOW + 600


def test_hint_never_lengthens_the_ttl() -> None:
    """A hint longer than the configured TTL is ignored."""
    e = entry_from_outcome(outcome(CacheHint(ttl_s=48 * HOUR)), CacheSettings(), now=NOW)
    assert e.expires_at == NOW + 4 * HOUR


def test_hint_is_floored_at_min_ttl() -> None:
    """A tiny hint cannot push the TTL below min_ttl (no refresh storms)."""
    settings = CacheSettings(min_ttl=60)
    e = entry_from_outcome(outcome(CacheHint(ttl_s=1)), settings, now=NOW)
    assert e.expires_at == NOW + 60


@pytest.mark.parametrize(
    ("configured", "hint", "floor", "expected"),
    [(100, None, 60, 100), (100, 30, 60, 60), (30, 10, 60, 30), (100, 80, 60, 80)],
)
def test_effective_ttl_table(
    configured: float, hint: float | None, floor: float, expected: float
) -> None:
    """The hint only shortens, the floor only applies to the hint."""
    assert effective_ttl(configured, CacheHint(ttl_s=hint), floor) == expected


def test_refresh_at_is_about_eighty_percent_with_jitter() -> None:
    """Refresh times fall within 75-85 % of the TTL and differ between entries fetched together."""
    rng = random.Random(7)
    settings = CacheSettings(tool_ttl=1000.0)
    times = [
        entry_from_outcome(outcome(), settings, now=NOW, rng=rng).refresh_at for _ in range(50)
    ]
    assert all(NOW + 750 <= t <= NOW + 850 for t in times)
    assert len({round(t, 3) for t in times}) > 40  # spread out, not one thundering herd


def test_private_hint_marks_the_entry_private() -> None:
    """A private cache-scope hint is carried into the entry (kept out of shared Redis)."""
    e = entry_from_outcome(outcome(CacheHint(private=True)), CacheSettings(), now=NOW)
    assert e.private


def test_entry_carries_the_outcome() -> None:
    """Catalog, server info, protocol version and blocked tools come from the outcome."""
    o = outcome()
    e = entry_from_outcome(o, CacheSettings(), now=NOW)
    assert e.catalog == o.catalog
    assert e.server_info == o.server_info
    assert e.protocol_version == "2025-06-18"
    assert e.last_error is None and e.consecutive_failures == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "error", "error": UpstreamError(ErrorKind.TIMEOUT, "slow")},
        {"status": "blocked"},
        {"source": "cache"},
    ],
    ids=["failed", "blocked", "from-cache"],
)
def test_failed_or_cached_outcomes_are_not_cached(fields: dict[str, Any]) -> None:
    """Only fresh successes become entries: a failure never replaces good data."""
    with pytest.raises(ValueError, match="only fresh successful"):
        entry_from_outcome(outcome(**fields), CacheSettings(), now=NOW)


def test_content_hash_ignores_key_order() -> None:
    """The same catalog with keys in another order hashes the same; a change hashes differently."""
    a = Catalog(tools=({"name": "t", "description": "d"},))
    b = Catalog(tools=({"description": "d", "name": "t"},))
    c = Catalog(tools=({"name": "t", "description": "changed"},))
    assert catalog_hash(a) == catalog_hash(b) != catalog_hash(c)
    assert catalog_hash(a).startswith("sha256:")


def test_failure_keeps_good_data_and_counts() -> None:
    """Recording a failed refresh keeps the catalog and bumps the failure count."""
    e = entry_from_outcome(outcome(), CacheSettings(), now=NOW)
    err = UpstreamError(ErrorKind.CONNECTION_REFUSED, "refused")
    failed = entry_with_failure(entry_with_failure(e, err), err)
    assert failed.catalog == e.catalog
    assert failed.consecutive_failures == 2 and failed.last_error == err


def test_gateway_config_entry_holds_no_secret() -> None:
    """The config summary has names and shapes, never env values, headers, args or URL auth."""
    gw = GatewayConfig(
        id="gw",
        name="Prod",
        servers=(
            ServerSpec(
                name="local",
                target=StdioTarget(
                    command="/usr/bin/npx",
                    args=("--token", "ARG-SECRET"),
                    env={"KEY": Secret("ENV-SECRET")},
                ),
            ),
            ServerSpec(
                name="remote",
                target=remote_target(
                    url="https://user:URL-PASSWORD@api.example.com:8443/mcp?key=QUERY-SECRET",
                    headers={"Authorization": "Bearer HEADER-SECRET"},
                ),
                tools=({"name": "fixed"},),
            ),
        ),
    )
    settings = CacheSettings(config_ttl=24 * HOUR)
    e = gateway_config_entry(gw, settings, now=NOW)
    text = json.dumps(e.gateway_config)
    for secret in (
        "ARG-SECRET",
        "ENV-SECRET",
        "URL-PASSWORD",
        "QUERY-SECRET",
        "HEADER-SECRET",
        "user",
    ):
        assert secret not in text
    servers = e.gateway_config["servers"] if e.gateway_config else []
    assert servers[0]["command"] == "npx"
    assert servers[1]["url"] == "https://api.example.com:8443/mcp"
    assert servers[1]["tools_defined"] is True
    assert e.cache_type is CacheType.GATEWAY_CONFIG and e.server_name is None
    assert e.expires_at == NOW + 24 * HOUR
    assert e.content_hash.startswith("sha256:")
