"""Redis key names: namespaced, versioned, and free of raw identifiers.

Layout (``P`` is the configured prefix, ``G`` the gateway's hash, ``S`` the server's)::

    P:v1:{G}:t:S      tools entry of (gateway, server)       STRING, PX = time to stale_until
    P:v1:{G}:c        gateway config entry                   STRING, PX = time to stale_until
    P:v1:{G}:idx      per-gateway index: member -> summary   HASH   (members "t:S" and "c")
    P:v1:tools        every tools entry, "G:S" -> stale_until (ms)   ZSET
    P:v1:configs      every config entry, "G" -> stale_until (ms)    ZSET
    P:v1:gateways     registry of gateways, "G" -> latest stale_until ZSET
    P:v1:{G}:lease:S  refresh lease of (gateway, server)     STRING token, PX = lease TTL
    P:v1:events       pub/sub channel: "updated"/"cleared" events (cache/events.py)
    P:v1:clears       recent clears, event -> time (ms), for a resync    ZSET
    P:v1:oauth:T      upstream OAuth token of (server, client) T, AES-GCM sealed (auth/store.py)
                                                             STRING, PX = time to its expiry

Identifiers are hashed with HMAC-SHA256 under the configured secret (plain
SHA-256 without one) and cut to 128 bits, so no gateway id or API key ever
appears in a key name. ``{G}`` is a Redis Cluster hash tag: every key of one
gateway, and so every key of one of its servers, lives in one slot, which lets
one pipeline (and one multi-key ``DEL``) cover a gateway on a single node.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from ..models import CacheType

FORMAT = "v1"  # bumped with the codec's major version; old and new keys never mix
HASH_HEX = 32  # 128 bits of the digest: collision-free in practice, short keys
CONFIG_MEMBER = "c"  # index field of the gateway config entry
TOOLS_MEMBER = "t:"  # index fields of tools entries: "t:" + server hash


def member_type(member: str) -> CacheType:
    """The cache type of an index field."""
    return CacheType.GATEWAY_CONFIG if member == CONFIG_MEMBER else CacheType.TOOLS


def is_tools_member(member: str) -> bool:
    """True for the index field of a tools entry."""
    return member.startswith(TOOLS_MEMBER)


class KeySpace:
    """Builds every key name for one prefix and secret."""

    def __init__(self, prefix: str = "mcpd", secret: str | None = None) -> None:
        if not prefix or any(ch in prefix for ch in "{} \t\r\n"):
            raise ValueError("cache key prefix must be non-empty, without braces or spaces")
        self.root = f"{prefix}:{FORMAT}"
        self.keyed = secret is not None
        key = secret.encode() if secret is not None else None
        self._hash = lru_cache(maxsize=8192)(lambda kind, value: _digest(key, kind, value))
        self.tools_set = f"{self.root}:tools"
        self.configs_set = f"{self.root}:configs"
        self.gateways_set = f"{self.root}:gateways"
        self.events_channel = f"{self.root}:events"
        self.clears_set = f"{self.root}:clears"

    def gateway_hash(self, gateway_id: str) -> str:
        """The gateway's identifier as it appears in keys and index members."""
        h: str = self._hash("gateway", gateway_id)
        return h

    def server_hash(self, server_name: str) -> str:
        """The server's identifier as it appears in keys and index members."""
        h: str = self._hash("server", server_name)
        return h

    def token_key(self, identity: str) -> str:
        """Where the OAuth token of one (server, client) identity lives, sealed."""
        return f"{self.root}:oauth:{self._hash('oauth', identity)}"

    def member(self, cache_type: CacheType, server_name: str | None) -> str:
        """The entry's field in its gateway's index: ``t:S`` or ``c``."""
        if cache_type is CacheType.GATEWAY_CONFIG:
            return CONFIG_MEMBER
        if server_name is None:
            raise ValueError("a tools entry needs a server name")
        return f"{TOOLS_MEMBER}{self.server_hash(server_name)}"

    def entry_key(self, cache_type: CacheType, gateway_id: str, server_name: str | None) -> str:
        """Where one entry's value lives."""
        return self.entry_key_for(
            self.gateway_hash(gateway_id), self.member(cache_type, server_name)
        )

    def entry_key_for(self, gateway_hash: str, member: str) -> str:
        """The entry key from an already-hashed gateway and an index member."""
        return f"{self.root}:{{{gateway_hash}}}:{member}"

    def index_key(self, gateway_id: str) -> str:
        """The gateway's index hash."""
        return self.index_key_for(self.gateway_hash(gateway_id))

    def index_key_for(self, gateway_hash: str) -> str:
        """The index hash of an already-hashed gateway."""
        return f"{self.root}:{{{gateway_hash}}}:idx"

    def lease_key(self, gateway_id: str, server_name: str) -> str:
        """The refresh lease of a tools entry (in its gateway's slot, beside the entry)."""
        gh = self.gateway_hash(gateway_id)
        return f"{self.root}:{{{gh}}}:lease:{self.server_hash(server_name)}"

    def entry_ref(self, cache_type: CacheType, gateway_id: str, server_name: str | None) -> str:
        """An entry's hashed identity in events: ``G/member``."""
        return f"{self.gateway_hash(gateway_id)}/{self.member(cache_type, server_name)}"

    def global_member(self, cache_type: CacheType, gateway_hash: str, member: str) -> str:
        """The entry's member in the global ``tools``/``configs`` sets."""
        if cache_type is CacheType.GATEWAY_CONFIG:
            return gateway_hash
        return f"{gateway_hash}:{member.removeprefix(TOOLS_MEMBER)}"

    def global_set(self, cache_type: CacheType) -> str:
        """The global sorted set that counts entries of this type."""
        return self.configs_set if cache_type is CacheType.GATEWAY_CONFIG else self.tools_set


def _digest(key: bytes | None, kind: str, value: str) -> str:
    # The kind separates domains: a server named like a gateway id hashes differently.
    message = f"{kind}\x00{value}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()[:HASH_HEX]
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:HASH_HEX]
