"""The Redis backend: entries, per-gateway indexes and global counters (layout in keys.py).

Every multi-key operation is one pipeline. Status reads three counters and,
for one gateway, its index fields; clear reads the indexes it needs and deletes
in one more pipeline: never ``KEYS``, never ``SCAN``. Entries expire in Redis
at ``stale_until`` (``PX``). An undecodable value (corrupt, another format
version, another identity) is reported and served as a miss. redis-py itself is
only touched through ``redis.RedisConnection``.

Writes are idempotent across daemons: an entry is written by a Lua step that
skips it when Redis holds one fetched later (newer ``fetched_at`` wins), and
that publishes the "updated" event only when it wrote. A clear publishes
"cleared" and leaves the event in the ``clears`` set for listeners that missed it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import CacheDecodeError
from ..models import CacheEntry, CacheType
from . import codec
from .base import ClearCounts, ClearScope, EntryId, EntrySummary, Inspection, Totals, entry_id
from .compat_enkrypt import EnkryptCompat
from .events import CacheEvent, Hub
from .keys import CONFIG_MEMBER, KeySpace, is_tools_member, member_type
from .scripts import PUT_IF_NOT_OLDER
from .stats import CacheStats

if TYPE_CHECKING:  # redis-py (and the OpenTelemetry it pulls in) only once Redis is configured
    from .redis import Batch, RedisConnection

logger = logging.getLogger(__name__)

MEMO_BYTES = 16 * 1024 * 1024  # decoded entries kept while their stored bytes are unchanged


class RedisBackend:
    """Entries in Redis, keyed by ``KeySpace``, optionally mirrored in the Enkrypt layout."""

    def __init__(
        self,
        connection: RedisConnection,
        *,
        keys: KeySpace,
        stats: CacheStats,
        index_ttl: float,
        compat: EnkryptCompat | None = None,
        memo_bytes: int = MEMO_BYTES,
        instance_id: str | None = None,
    ) -> None:
        self.name = connection.kind
        self.instance_id = instance_id or secrets.token_hex(8)  # tells our events from others'
        self.hub = Hub()  # this daemon's waiters for other daemons' events
        self.connection = connection
        self.keys = keys
        self.compat = compat
        self._stats = stats
        self._index_ttl_ms = int(index_ttl * 1000)
        self._memo: OrderedDict[str, tuple[bytes, CacheEntry]] = OrderedDict()
        self._memo_bytes = 0
        self._memo_limit = memo_bytes
        self._reported: set[str] = set()  # keys whose decode failure was already logged
        self._dead_members: set[tuple[str, str]] = set()  # index fields whose entry is gone

    @property
    def enkrypt_compat(self) -> bool:
        """See ``Backend.enkrypt_compat``."""
        return self.compat is not None

    async def ping(self) -> None:
        """CacheUnavailableError unless the server answers and accepts our credentials."""
        await self.connection.ping()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()

    async def get(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, *, now: float
    ) -> CacheEntry | None:
        """See ``Backend.get``; bytes equal to the last ones read are not decoded again."""
        found = await self.fetch(cache_type, gateway_id, server_name, now=now)
        return found[0] if found is not None else None

    async def fetch(
        self, cache_type: CacheType, gateway_id: str, server_name: str | None, *, now: float
    ) -> tuple[CacheEntry, int] | None:
        """The live entry and its stored size in bytes, or None."""
        key = self.keys.entry_key(cache_type, gateway_id, server_name)
        data = await self.connection.call("get", "GET", key)
        if data is None:
            return None
        entry = self._decode(key, data)
        if entry is None or now >= entry.stale_until:
            return None
        if (entry.cache_type, entry.gateway_id, entry.server_name) != (
            cache_type,
            gateway_id,
            server_name,
        ):
            self._report(key, "entry belongs to another identity (hash collision or tampering)")
            return None
        return entry, len(data)

    async def put_many(
        self, entries: Sequence[CacheEntry], *, now: float, blobs: Sequence[bytes] | None = None
    ) -> list[EntryId]:
        """Store shared entries in one pipeline (private and expired ones are skipped).

        Returns the ids not written because Redis holds a version fetched later.
        """
        if blobs is None:
            blobs = [codec.encode(e) for e in entries]
        batch = self.connection.batch()
        now_ms = int(now * 1000)
        latest: dict[str, int] = {}  # gateway hash -> latest stale_until (ms)
        puts: list[tuple[int, EntryId]] = []  # (reply position, id) of each guarded write
        for entry, blob in zip(entries, blobs, strict=True):
            if entry.private or now >= entry.stale_until:
                continue
            gh = self.keys.gateway_hash(entry.gateway_id)
            member = self.keys.member(entry.cache_type, entry.server_name)
            stale_ms = int(entry.stale_until * 1000)
            summary = codec.encode_summary(EntrySummary.of(entry, len(blob)))
            event = CacheEvent.updated(self.instance_id, now, f"{gh}/{member}", entry.fetched_at)
            position = batch.eval(
                PUT_IF_NOT_OLDER,
                [self.keys.entry_key_for(gh, member), self.keys.index_key_for(gh)],
                [
                    blob,
                    max(1, stale_ms - now_ms),
                    member,
                    summary,
                    repr(entry.fetched_at),
                    self.keys.events_channel,
                    event.encode(),
                ],
            )
            puts.append((position, entry_id(entry)))
            global_member = self.keys.global_member(entry.cache_type, gh, member)
            batch("ZADD", self.keys.global_set(entry.cache_type), stale_ms, global_member)
            latest[gh] = max(latest.get(gh, 0), stale_ms)
            if self.compat is not None:
                batch.extend(self.compat.write(entry, now=now))
        if not latest:
            return []
        for gh, stale_ms in latest.items():
            # The index outlives every entry it lists: the longest lifetime these settings give.
            index_ttl = max(self._index_ttl_ms, stale_ms - now_ms)
            batch("PEXPIRE", self.keys.index_key_for(gh), index_ttl)
            batch("ZADD", self.keys.gateways_set, "GT", stale_ms, gh)
        self._queue_housekeeping(batch, now_ms)
        replies = await self.connection.run(batch, "put_many")
        return [ident for position, ident in puts if not int(replies[position])]

    async def fetch_ref(self, ref: str, *, now: float) -> tuple[CacheEntry, int] | None:
        """The live entry stored under a hashed identity ``G/member`` (an event's), or None."""
        gh, _, member = ref.partition("/")
        key = self.keys.entry_key_for(gh, member)
        data = await self.connection.call("get", "GET", key)
        entry = self._decode(key, data) if data is not None else None
        if entry is None or now >= entry.stale_until:
            return None
        return entry, len(data)

    async def clears_since(self, since: float) -> list[CacheEvent]:
        """The "cleared" events published at or after ``since`` (for a listener's resync)."""
        raw = await self.connection.call(
            "clears", "ZRANGEBYSCORE", self.keys.clears_set, int(since * 1000), "+inf"
        )
        found = (CacheEvent.decode(item) for item in raw)
        return [event for event in found if event is not None and event.kind == "cleared"]

    def _queue_announce(self, batch: Batch, scope: ClearScope) -> None:
        """Publish "cleared" and keep it in the clears set as long as an index lives."""
        now = time.time()
        event = CacheEvent.cleared(self.instance_id, now, scope, self.keys).encode()
        now_ms = int(now * 1000)
        batch("ZADD", self.keys.clears_set, now_ms, event)
        batch("ZREMRANGEBYSCORE", self.keys.clears_set, "-inf", now_ms - self._index_ttl_ms)
        batch("PUBLISH", self.keys.events_channel, event)

    async def stored_versions(self, ids: Sequence[EntryId], *, now: float) -> dict[EntryId, float]:
        """``fetched_at`` of the live stored entry for each id that has one (for write-back)."""
        if not ids:
            return {}
        batch = self.connection.batch()
        for cache_type, gateway_id, server_name in ids:
            gh = self.keys.gateway_hash(gateway_id)
            member = self.keys.member(cache_type, server_name)
            batch("HGET", self.keys.index_key_for(gh), member)
            batch("EXISTS", self.keys.entry_key_for(gh, member))
        replies = await self.connection.run(batch, "versions")
        versions: dict[EntryId, float] = {}
        for i, ident in enumerate(ids):
            summary = self._summary(replies[2 * i], "index")
            if summary is not None and replies[2 * i + 1] and now < summary.stale_until:
                versions[ident] = summary.fetched_at
        return versions

    async def inspect(
        self, gateway_id: str | None, server_names: Sequence[str], *, now: float
    ) -> Inspection:
        """See ``Backend.inspect``: one pipeline, whatever the number of entries."""
        live_from = f"({int(now * 1000)}"  # exclusive: live means stale_until > now
        batch = self.connection.batch()
        for key in (self.keys.gateways_set, self.keys.tools_set, self.keys.configs_set):
            batch("ZCOUNT", key, live_from, "+inf")
        members: list[str] = []
        gh = ""
        if gateway_id is not None:
            gh = self.keys.gateway_hash(gateway_id)
            members = [CONFIG_MEMBER, *(self.keys.member(CacheType.TOOLS, n) for n in server_names)]
            batch("HMGET", self.keys.index_key_for(gh), *members)
            for member in members:
                batch("EXISTS", self.keys.entry_key_for(gh, member))
        replies = await self.connection.run(batch, "inspect")
        totals = Totals(int(replies[0]), int(replies[1]), int(replies[2]))
        summaries: dict[tuple[CacheType, str | None], EntrySummary] = {}
        if gateway_id is not None:
            for member, raw, present in zip(members, replies[3], replies[4:], strict=True):
                summary = self._summary(raw, self.keys.index_key_for(gh))
                if summary is None:
                    continue
                if not present or now >= summary.stale_until:
                    self._dead_members.add((gh, member))  # removed with the next write
                    continue
                summaries[(summary.cache_type, summary.server_name)] = summary
        return Inspection(totals, summaries)

    async def clear(
        self, scope: ClearScope, *, known: Mapping[str, Sequence[str]] | None = None
    ) -> ClearCounts:
        """See ``Backend.clear``. ``known`` maps configured gateway ids to server names: those
        are cleared even when an index lost them, and the Enkrypt layout is cleared for them."""
        known = known or {}
        by_hash = {self.keys.gateway_hash(g): g for g in known}
        if scope.gateway_id is not None:
            gh = self.keys.gateway_hash(scope.gateway_id)
            by_hash[gh] = scope.gateway_id
            hashes = [gh]
        else:
            listed = await self.connection.call("clear", "ZRANGE", self.keys.gateways_set, 0, -1)
            hashes = sorted({_text(h) for h in listed} | set(by_hash))
        indexes: list[dict[str, EntrySummary | None]] = [{} for _ in hashes]
        if CacheType.TOOLS in scope.types and scope.server_name is None and hashes:
            batch = self.connection.batch()
            for gh in hashes:
                batch("HGETALL", self.keys.index_key_for(gh))
            replies = await self.connection.run(batch, "clear")
            indexes = [
                {_text(m): self._summary(raw, "index") for m, raw in reply.items()}
                for reply in replies
            ]
        batch = self.connection.batch()
        counted: list[tuple[int, str, CacheType]] = []  # (reply position, gateway, type) of DELs
        for gh, index in zip(hashes, indexes, strict=True):
            counted += self._queue_clear(batch, scope, gh, by_hash.get(gh), index, known)
        self._queue_announce(batch, scope)  # even when Redis held nothing: memory views may
        replies = await self.connection.run(batch, "clear")
        if not counted:
            return ClearCounts()
        removed = {CacheType.TOOLS: 0, CacheType.GATEWAY_CONFIG: 0}
        touched: set[str] = set()
        for position, gh, cache_type in counted:
            count = int(replies[position])
            removed[cache_type] += count
            if count:
                touched.add(gh)
        return ClearCounts(
            removed[CacheType.TOOLS], removed[CacheType.GATEWAY_CONFIG], len(touched)
        )

    def _queue_clear(
        self,
        batch: Batch,
        scope: ClearScope,
        gh: str,
        gateway_id: str | None,
        index: Mapping[str, EntrySummary | None],
        known: Mapping[str, Sequence[str]],
    ) -> list[tuple[int, str, CacheType]]:
        """Queue the deletes for one gateway; returns where each counted DEL reply will be."""
        counted: list[tuple[int, str, CacheType]] = []
        index_key = self.keys.index_key_for(gh)
        names: set[str] = set()
        if CacheType.TOOLS in scope.types:
            members: set[str] = set()
            if scope.server_name is not None:
                names = {scope.server_name}
            else:
                names = {s.server_name for s in index.values() if s and s.server_name}
                names |= set(known.get(gateway_id, ())) if gateway_id is not None else set()
                members = {m for m in index if is_tools_member(m)}
            members |= {self.keys.member(CacheType.TOOLS, n) for n in names}
            if members:
                ordered = sorted(members)
                keys = [self.keys.entry_key_for(gh, m) for m in ordered]
                counted.append((batch("DEL", *keys), gh, CacheType.TOOLS))
                batch("HDEL", index_key, *ordered)
                tools_members = (self.keys.global_member(CacheType.TOOLS, gh, m) for m in ordered)
                batch("ZREM", self.keys.tools_set, *tools_members)
        if CacheType.GATEWAY_CONFIG in scope.types:
            position = batch("DEL", self.keys.entry_key_for(gh, CONFIG_MEMBER))
            counted.append((position, gh, CacheType.GATEWAY_CONFIG))
            batch("HDEL", index_key, CONFIG_MEMBER)
            batch("ZREM", self.keys.configs_set, gh)
        if len(scope.types) == len(CacheType) and scope.server_name is None:
            batch("DEL", index_key)
            batch("ZREM", self.keys.gateways_set, gh)
        if self.compat is not None and gateway_id is not None:
            if CacheType.TOOLS in scope.types:
                whole = scope.server_name is None
                batch.extend(self.compat.clear_tools(gateway_id, names, whole_gateway=whole))
            if CacheType.GATEWAY_CONFIG in scope.types:
                batch.extend(self.compat.clear_config(gateway_id))
        return counted

    def _queue_housekeeping(self, batch: Batch, now_ms: int) -> None:
        """Drop expired members from the global sets, and index fields found dead."""
        for key in (self.keys.tools_set, self.keys.configs_set, self.keys.gateways_set):
            batch("ZREMRANGEBYSCORE", key, "-inf", now_ms)
        dead, self._dead_members = self._dead_members, set()
        for gh, member in sorted(dead):  # evicted entries: forget them everywhere
            batch("HDEL", self.keys.index_key_for(gh), member)
            cache_type = member_type(member)
            global_member = self.keys.global_member(cache_type, gh, member)
            batch("ZREM", self.keys.global_set(cache_type), global_member)

    def _decode(self, key: str, data: bytes) -> CacheEntry | None:
        memo = self._memo.get(key)
        if memo is not None and memo[0] == data:
            self._memo.move_to_end(key)
            return memo[1]
        try:
            entry = codec.decode(data, key)
        except CacheDecodeError as exc:
            self._report(key, exc.reason)
            return None
        if memo is not None:
            self._memo_bytes -= len(memo[0])
        self._memo[key] = (data, entry)
        self._memo_bytes += len(data)
        while self._memo_bytes > self._memo_limit and self._memo:
            _, (old, _) = self._memo.popitem(last=False)
            self._memo_bytes -= len(old)
        return entry

    def _summary(self, raw: bytes | None, key: str) -> EntrySummary | None:
        if raw is None:
            return None
        try:
            return codec.decode_summary(raw, key)
        except CacheDecodeError as exc:
            self._report(key, exc.reason)
            return None

    def _report(self, key: str, reason: str) -> None:
        """Count an undecodable entry (served as a miss) and log it once per key."""
        self._stats.record_decode_error()
        if key not in self._reported and len(self._reported) < 1024:
            self._reported.add(key)
            logger.warning("ignoring cache entry %s: %s", key, reason)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
