"""The Redis layout that Secure MCP Gateway (Enkrypt) reads, written beside our own.

For each tools entry and each of its gateway's Enkrypt cache ids
(``f"{user_id}_{project_id}_{mcp_config_id}"``, from ``GatewayConfig.cache_ids``;
the gateway id itself when there are none)::

    SETEX md5(f"{id}-{server}-tools")  <seconds to expires_at>  {"tools": [{name, description, inputSchema}]}
    SADD  md5(f"registry:{id}:servers")  server
    SADD  md5("registry:gateway/user")   id

That gateway serves nothing stale, so its copy expires at ``expires_at`` (our
own copy lives on until ``stale_until``); stale and private entries are not
written. Not written: the gateway's own config entry (``{id}-mcp-config``,
which would hold its secrets) and ``gateway_key-{apikey}`` (an API key in a key
name). This module only names keys and builds commands; ``redis.py`` runs them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence

from ..config.settings import DaemonConfig
from ..models import CacheEntry, CacheType, JSONObject

Command = tuple[str | int, ...]  # a Redis command: name, then arguments

GLOBAL_REGISTRY = "registry:gateway/user"


def md5_key(raw: str) -> str:
    """A key name as Secure MCP Gateway spells it: the MD5 hex digest of the raw string."""
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def tools_key(cache_id: str, server_name: str) -> str:
    """Where that gateway looks for one server's tools."""
    return md5_key(f"{cache_id}-{server_name}-tools")


def config_key(cache_id: str) -> str:
    """Where that gateway keeps its own resolved config (we only ever delete it)."""
    return md5_key(f"{cache_id}-mcp-config")


def servers_registry_key(cache_id: str) -> str:
    """The set of server names cached for one id."""
    return md5_key(f"registry:{cache_id}:servers")


def global_registry_key() -> str:
    """The set of every id with cached tools."""
    return md5_key(GLOBAL_REGISTRY)


def tools_value(entry: CacheEntry) -> str:
    """The tools value that gateway decodes: only name, description and inputSchema."""
    tools: list[JSONObject] = [
        {
            "name": tool.get("name", ""),
            "description": tool.get("description") or "",
            "inputSchema": tool.get("inputSchema") or {"type": "object"},
        }
        for tool in entry.catalog.tools
    ]
    return json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False)


def compat_enabled(config: DaemonConfig) -> bool:
    """On by default for an Enkrypt config using Redis (its external cache); switchable."""
    if config.cache.enkrypt_compat is not None:
        return config.cache.enkrypt_compat
    return config.format == "enkrypt" and config.cache.backend == "redis"


class EnkryptCompat:
    """Builds the extra commands that keep that gateway's layout in step with ours."""

    def __init__(self, cache_ids: Mapping[str, Sequence[str]]) -> None:
        self._cache_ids = {gw: tuple(ids) for gw, ids in cache_ids.items()}

    @classmethod
    def from_config(cls, config: DaemonConfig) -> EnkryptCompat:
        """The writer for every gateway of a config."""
        return cls({g.id: g.effective_cache_ids for g in config.gateways})

    def cache_ids(self, gateway_id: str) -> tuple[str, ...]:
        """The ids that gateway looks entries up under (the gateway id when unknown)."""
        return self._cache_ids.get(gateway_id, (gateway_id,))

    def write(self, entry: CacheEntry, *, now: float) -> list[Command]:
        """Commands that publish one entry; none for config, private or expired entries."""
        if entry.cache_type is not CacheType.TOOLS or entry.private or entry.server_name is None:
            return []
        ttl = math.ceil(entry.expires_at - now)
        if ttl <= 0:
            return []
        value = tools_value(entry)
        commands: list[Command] = []
        for cid in self.cache_ids(entry.gateway_id):
            commands += [
                ("SETEX", tools_key(cid, entry.server_name), ttl, value),
                ("SADD", servers_registry_key(cid), entry.server_name),
                ("SADD", global_registry_key(), cid),
            ]
        return commands

    def clear_tools(
        self, gateway_id: str, server_names: Iterable[str], *, whole_gateway: bool
    ) -> list[Command]:
        """Commands that remove servers' tools (and the id's registries with the whole gateway)."""
        names = sorted(set(server_names))
        commands: list[Command] = []
        for cid in self.cache_ids(gateway_id):
            commands += [("DEL", tools_key(cid, name)) for name in names]
            if whole_gateway:
                commands += [
                    ("DEL", servers_registry_key(cid)),
                    ("SREM", global_registry_key(), cid),
                ]
            elif names:
                commands.append(("SREM", servers_registry_key(cid), *names))
        return commands

    def clear_config(self, gateway_id: str) -> list[Command]:
        """Commands that drop that gateway's own cached config, so it re-reads its file."""
        return [("DEL", config_key(cid)) for cid in self.cache_ids(gateway_id)]
