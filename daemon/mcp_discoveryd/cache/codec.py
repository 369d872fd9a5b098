"""The versioned byte form of cache entries and index summaries.

An entry is a compact JSON object (UTF-8, no spaces) with ``"v": 1`` first;
empty and default fields are left out. Catalog items are stored exactly as the
upstream sent them (MCP wire shape), so nothing is lost between memory and
Redis. Anything that is not a well-formed version-1 entry raises
``CacheDecodeError``; callers treat that as a miss.

Fields are only ever added to version 1, optional with a default meaning "not
known" (``accepted_tools`` and ``tool_changes`` of rug-pull detection came so):
an entry written before them reads as never reviewed, and a daemon that predates
them ignores them. The version moves only when a field changes meaning.

An entry holds its catalog encoded (``catalog.py``): decoding keeps the stored
catalog's text (``spans.py`` finds it in the one parse), checked and counted,
and encoding writes the held bytes back as they are, last in the object.

Stdlib ``json`` on purpose: decoding a 50-tool catalog costs ~0.35 ms, orjson
halves that, and the Redis backend already skips decoding unchanged bytes, so a
new dependency would not change any figure that matters.
"""

from __future__ import annotations

import json
from typing import Any

from ..catalog import catalog_lists
from ..errors import CacheDecodeError
from ..models import (
    AcceptedTool,
    BlockedTool,
    CacheEntry,
    CacheType,
    Catalog,
    ErrorKind,
    JSONObject,
    ToolChange,
    UpstreamError,
)
from . import spans
from .base import EntrySummary

VERSION = 1

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.JSONDecoder().decode


def encode(entry: CacheEntry) -> bytes:
    """The stored form of an entry."""
    doc: JSONObject = {
        "v": VERSION,
        "type": entry.cache_type.value,
        "gateway_id": entry.gateway_id,
        "server_name": entry.server_name,
        "source": entry.source,
        "fetched_at": entry.fetched_at,
        "refresh_at": entry.refresh_at,
        "expires_at": entry.expires_at,
        "stale_until": entry.stale_until,
    }
    optional: dict[str, Any] = {
        "server_info": entry.server_info,
        "protocol_version": entry.protocol_version,
        "capabilities": entry.capabilities,
        "blocked_tools": [b.to_json() for b in entry.blocked_tools],
        "content_hash": entry.content_hash,
        "gateway_config": entry.gateway_config,
        "last_error": entry.last_error.to_json() if entry.last_error else None,
        "consecutive_failures": entry.consecutive_failures,
        "private": entry.private,
        "definition": entry.definition,
        "policy": entry.policy,
    }
    doc.update((k, v) for k, v in optional.items() if v)
    if entry.accepted_tools is not None:  # an empty accepted set is not "never reviewed"
        doc["accepted_tools"] = [a.to_json() for a in entry.accepted_tools]
    if entry.tool_changes:
        doc["tool_changes"] = [c.to_json() for c in entry.tool_changes]
    head = _dumps(doc).encode()
    if entry.catalog.empty:
        return head
    return b"".join((head[:-1], b',"catalog":', entry.catalog.encoded, b"}"))  # as held, last


def decode(data: bytes, key: str = "?") -> CacheEntry:
    """An entry from its stored form; CacheDecodeError for another version or bad bytes."""
    _check_unicode(data, key)
    doc, raw_catalog = _load_entry(data, key)
    version = doc.get("v")
    if version != VERSION:
        raise CacheDecodeError(key, f"format version {version!r}, this daemon reads {VERSION}")
    try:
        return _entry(doc, raw_catalog)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CacheDecodeError(key, f"malformed entry ({type(exc).__name__}: {exc})") from exc


def encode_summary(summary: EntrySummary) -> bytes:
    """The stored form of an index summary."""
    doc: JSONObject = {
        "v": VERSION,
        "type": summary.cache_type.value,
        "server_name": summary.server_name,
        "source": summary.source,
        "tool_count": summary.tool_count,
        "fetched_at": summary.fetched_at,
        "refresh_at": summary.refresh_at,
        "expires_at": summary.expires_at,
        "stale_until": summary.stale_until,
        "size": summary.size,
    }
    optional = {
        "error": summary.error,
        "consecutive_failures": summary.consecutive_failures,
        "blocked_count": summary.blocked_count,
    }
    doc.update((k, v) for k, v in optional.items() if v)
    return _dumps(doc).encode()


def decode_summary(data: bytes, key: str = "?") -> EntrySummary:
    """An index summary from its stored form; CacheDecodeError when it is not one."""
    _check_unicode(data, key)
    doc = _load_object(data, key)
    if doc.get("v") != VERSION:
        raise CacheDecodeError(key, f"summary format version {doc.get('v')!r}")
    try:
        return EntrySummary(
            cache_type=CacheType(doc["type"]),
            server_name=_opt_str(doc.get("server_name")),
            source=str(doc["source"]),
            tool_count=int(doc["tool_count"]),
            fetched_at=float(doc["fetched_at"]),
            refresh_at=float(doc["refresh_at"]),
            expires_at=float(doc["expires_at"]),
            stale_until=float(doc["stale_until"]),
            error=_opt_str(doc.get("error")),
            consecutive_failures=int(doc.get("consecutive_failures", 0)),
            blocked_count=int(doc.get("blocked_count", 0)),
            size=int(doc.get("size", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CacheDecodeError(key, f"malformed summary ({type(exc).__name__}: {exc})") from exc


def _load_object(data: bytes, key: str) -> dict[str, Any]:
    try:
        doc = _loads(data.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CacheDecodeError(key, f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(doc, dict):
        raise CacheDecodeError(key, f"expected an object, got {type(doc).__name__}")
    return doc


def _load_entry(data: bytes, key: str) -> tuple[dict[str, Any], str | None]:
    """The top-level object and the source text of its catalog (kept, not encoded again)."""
    try:
        doc, raw = spans.value_with_raw(data.decode(), "catalog")
    except (UnicodeDecodeError, ValueError) as exc:
        raise CacheDecodeError(key, f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(doc, dict):
        raise CacheDecodeError(key, f"expected an object, got {type(doc).__name__}")
    return doc, raw


def _catalog(doc: dict[str, Any], raw: str | None) -> Catalog:
    """The packed catalog: its stored text, checked by decoding it once."""
    found = doc.get("catalog")
    if not found or raw is None:
        return Catalog()
    if not isinstance(found, dict):
        raise TypeError(f"catalog must be an object, got {type(found).__name__}")
    lists = catalog_lists(found)
    if not any(lists):
        return Catalog()
    return Catalog.from_packed(raw.encode(), lists)


def _entry(doc: dict[str, Any], raw_catalog: str | None) -> CacheEntry:
    source = doc["source"]
    if source not in ("config", "discovery"):
        raise ValueError(f"unknown source {source!r}")
    return CacheEntry(
        cache_type=CacheType(doc["type"]),
        gateway_id=_str(doc["gateway_id"]),
        server_name=_opt_str(doc.get("server_name")),
        source=source,
        fetched_at=float(doc["fetched_at"]),
        refresh_at=float(doc["refresh_at"]),
        expires_at=float(doc["expires_at"]),
        stale_until=float(doc["stale_until"]),
        catalog=_catalog(doc, raw_catalog),
        server_info=_opt_object(doc.get("server_info")),
        protocol_version=_opt_str(doc.get("protocol_version")),
        capabilities=_opt_object(doc.get("capabilities")),
        blocked_tools=tuple(
            BlockedTool(_str(b["name"]), tuple(_str(r) for r in b["reasons"]))
            for b in doc.get("blocked_tools", ())
        ),
        content_hash=_str(doc.get("content_hash", "")),
        gateway_config=_opt_object(doc.get("gateway_config")),
        last_error=_error(doc.get("last_error")),
        consecutive_failures=int(doc.get("consecutive_failures", 0)),
        private=bool(doc.get("private", False)),
        definition=_str(doc.get("definition", "")),
        policy=_str(doc.get("policy", "")),
        accepted_tools=_accepted(doc.get("accepted_tools")),
        tool_changes=tuple(ToolChange.from_json(c) for c in doc.get("tool_changes", ())),
    )


def _accepted(raw: Any) -> tuple[AcceptedTool, ...] | None:
    if raw is None:  # an entry written before rug-pull detection: never reviewed
        return None
    if not isinstance(raw, list):
        raise TypeError("accepted_tools must be a list")
    return tuple(AcceptedTool.from_json(a) for a in raw)


def _error(raw: Any) -> UpstreamError | None:
    if raw is None:
        return None
    status = raw.get("http_status")
    return UpstreamError(
        kind=ErrorKind(raw["kind"]),
        message=_str(raw["message"]),
        stderr_tail=tuple(_str(line) for line in raw.get("stderr_tail", ())),
        http_status=int(status) if status is not None else None,
    )


def _str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, got {type(raw).__name__}")
    return raw


def _opt_str(raw: Any) -> str | None:
    return None if raw is None else _str(raw)


def _opt_object(raw: Any) -> JSONObject | None:
    if raw is not None and not isinstance(raw, dict):
        raise TypeError(f"expected an object, got {type(raw).__name__}")
    return raw


def _check_unicode(data: bytes, key: str) -> None:
    """Refuse a lone surrogate escape (``"\\ud800"``): JSON lets another writer store one,
    and such a string cannot be encoded again, hashed or written back. We write UTF-8,
    never such escapes, so only foreign bytes pay for the check."""
    if b"\\ud" not in data and b"\\uD" not in data:
        return
    try:
        _dumps(json.loads(data)).encode()
    except UnicodeEncodeError:
        raise CacheDecodeError(
            key, "a string is not valid Unicode (a lone surrogate escape)"
        ) from None
    except ValueError:
        return  # not JSON: the parse that follows names it
