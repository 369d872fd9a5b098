"""Catalog answers, serialized once per entry change: the control socket's read path.

``DaemonApi.catalog`` hands back the same immutable entry object until the entry (or the
policy it is served under) changes; its JSON body and ETag are kept per server against
that object and its freshness (which moves at ``expires_at`` and ``stale_until``), so a
read of an unchanged catalog is two dictionary lookups and a comparison.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..api import DaemonApi
from ..cache.status import iso_utc
from ..discovery.guardrails import blocked_reasons, tooldiff
from ..models import CacheEntry, JSONObject

MAX_BODIES = 256  # serialized catalogs kept, least recently read dropped first


@dataclass(frozen=True, slots=True)
class CatalogBody:
    """One server's catalog as sent: the JSON bytes and their ETag."""

    body: bytes
    etag: bytes  # a quoted strong validator, as the ETag header carries it


def entry_json(gateway_id: str, entry: CacheEntry, now: float) -> JSONObject:
    """What ``GET /v1/servers/{name}/catalog`` answers for one entry."""
    cat = entry.catalog
    return {
        "gateway": gateway_id,
        "server": entry.server_name,
        "source": entry.source,
        "freshness": entry.freshness(now),
        "fetched_at": iso(entry.fetched_at),
        "refresh_at": iso(entry.refresh_at),
        "expires_at": iso(entry.expires_at),
        "stale_until": iso(entry.stale_until),
        "tools": list(cat.tools),
        "prompts": list(cat.prompts),
        "resources": list(cat.resources),
        "resource_templates": list(cat.resource_templates),
        "blocked_tools": [b.to_json() for b in entry.blocked_tools],
        "blocked_count": len(entry.blocked_tools),
        "blocked_reasons": blocked_reasons(entry.blocked_tools),
        "tool_changes": [tooldiff.change_json(c) for c in entry.tool_changes],
        "server_info": entry.server_info,
        "protocol_version": entry.protocol_version,
        "last_error": entry.last_error.to_json() if entry.last_error else None,
        "consecutive_failures": entry.consecutive_failures,
    }


def iso(epoch: float) -> str | None:
    """UTC epoch seconds as ISO 8601 with a Z; None for a time that never comes."""
    return iso_utc(epoch)


class CatalogBodies:
    """Per server, the last body sent and what it was made from, for the most recently
    read ``MAX_BODIES`` servers (a body is ~27 KB for 50 tools: kept for every server of a
    large daemon they would outweigh the encoded catalogs themselves)."""

    def __init__(self, api: DaemonApi) -> None:
        self._api = api
        self._bodies: OrderedDict[tuple[str, str], tuple[CacheEntry, str, CatalogBody]] = (
            OrderedDict()
        )

    def get(self, gateway_id: str, server_name: str) -> CatalogBody | None:
        """The body of the server's served catalog, or None when nothing is cached for it."""
        entry = self._api.catalog(gateway_id, server_name)
        if entry is None:
            return None
        now = time.time()
        freshness = entry.freshness(now)
        key = (gateway_id, server_name)
        kept = self._bodies.get(key)
        if kept is not None and kept[0] is entry and kept[1] == freshness:
            self._bodies.move_to_end(key)
            return kept[2]
        body = json.dumps(entry_json(gateway_id, entry, now)).encode()
        tag = hashlib.blake2b(body, digest_size=12).hexdigest()
        made = CatalogBody(body, f'"{tag}"'.encode())
        self._bodies[key] = (entry, freshness, made)
        self._bodies.move_to_end(key)
        if len(self._bodies) > MAX_BODIES:
            self._bodies.popitem(last=False)
        return made
