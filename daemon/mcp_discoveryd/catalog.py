"""``Catalog``: what one server offers, held encoded once it is cached.

Why encoded: a daemon holding 1,000 servers x 50 tools kept ~164 MB of decoded
JSON (a dict, a key table and a string object per schema node); the same
catalogs as compact JSON bytes are ~27 MB. So a catalog comes in two states
with one interface:

- built from item tuples (a fresh listing, a catalog from config): the engine
  reads it once, so it is kept as given;
- packed: the compact JSON object the cache codec stores (``{"tools": [...],
  ...}``, empty lists left out), what every ``CacheEntry`` holds. Reading its
  items decodes them; the codec splices the bytes into an entry's stored form
  without encoding them again.

Decoded items of the last packed catalogs read are kept in a small memo bounded
by their packed size (any thread), so a reader that asks again soon (the
gateway read path, the guardrails on a catalog served from cache) does not
decode again. Items are shared between readers and must be treated as read-only.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import FrozenInstanceError
from typing import Any

JSONObject = dict[str, Any]  # as models.JSONObject (models imports this module)
Items = tuple[JSONObject, ...]
Lists = tuple[Items, Items, Items, Items]  # tools, prompts, resources, resource templates

LISTS = ("tools", "prompts", "resources", "resource_templates")  # their keys when packed
MEMO_BYTES = 1024 * 1024  # packed bytes whose decoded items are kept (~6 MB of objects)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.JSONDecoder().decode


class Catalog:
    """What one server offers: tools, prompts, resources and resource templates (wire shape)."""

    __slots__ = ("_counts", "_lists", "_packed")
    _lists: Lists | None  # None when packed
    _packed: bytes | None
    _counts: tuple[int, int, int, int]

    def __init__(
        self,
        tools: Items = (),
        prompts: Items = (),
        resources: Items = (),
        resource_templates: Items = (),
    ) -> None:
        lists = (tuple(tools), tuple(prompts), tuple(resources), tuple(resource_templates))
        _set(self, lists, None, (len(lists[0]), len(lists[1]), len(lists[2]), len(lists[3])))

    @classmethod
    def from_packed(cls, packed: bytes, lists: Lists) -> Catalog:
        """A packed catalog from its bytes and their decoded, checked ``lists`` (the codec's).

        ``lists`` only give the counts: kept in the memo, every entry decoded would leave
        thousands of objects for the garbage collector to walk (a decoding read took 1.7x).
        """
        out = cls.__new__(cls)
        _set(out, None, packed, (len(lists[0]), len(lists[1]), len(lists[2]), len(lists[3])))
        return out

    @property
    def tools(self) -> Items:
        """The tools, as the upstream sent them (inputSchema, outputSchema, _meta, ...)."""
        return self._items()[0]

    @property
    def prompts(self) -> Items:
        """The prompts."""
        return self._items()[1]

    @property
    def resources(self) -> Items:
        """The resources."""
        return self._items()[2]

    @property
    def resource_templates(self) -> Items:
        """The resource templates."""
        return self._items()[3]

    @property
    def tool_count(self) -> int:
        """How many tools, without decoding a packed catalog."""
        return self._counts[0]

    @property
    def empty(self) -> bool:
        """True when the server offers nothing at all."""
        return not any(self._counts)

    @property
    def is_packed(self) -> bool:
        """True when held as encoded bytes."""
        return self._packed is not None

    @property
    def encoded(self) -> bytes:
        """The compact JSON object (``{"tools": [...], ...}``, empty lists left out)."""
        if self._packed is not None:
            return self._packed
        lists = self._lists
        assert lists is not None
        return _dumps({k: list(v) for k, v in zip(LISTS, lists, strict=True) if v}).encode()

    def packed(self) -> Catalog:
        """This catalog held as encoded bytes (itself when it already is)."""
        if self._packed is not None:
            return self
        if not any(self._counts):
            return EMPTY
        out = Catalog.__new__(Catalog)
        _set(out, None, self.encoded, self._counts)
        return out

    def with_tools(self, tools: Items) -> Catalog:
        """The same catalog with other tools (those the guardrails kept)."""
        _, prompts, resources, templates = self._items()
        return Catalog(tools, prompts, resources, templates)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Catalog):
            return NotImplemented
        if self._packed is not None and self._packed == other._packed:
            return True
        return self._counts == other._counts and self._items() == other._items()

    def __hash__(self) -> int:
        return hash(self._counts)  # equal catalogs have equal counts; items are dicts

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={n}" for k, n in zip(LISTS, self._counts, strict=True) if n)
        return f"Catalog({counts}{', packed' if self.is_packed else ''})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Catalog, self._items())

    def _items(self) -> Lists:
        if self._lists is not None:
            return self._lists
        packed = self._packed
        assert packed is not None
        found = _memo.get(packed)
        if found is None:
            found = decode_lists(packed)
            _memo.put(packed, found)
        return found


def decode_lists(packed: bytes) -> Lists:
    """The four item lists of a packed catalog (ValueError/TypeError when it is not one)."""
    doc = _loads(packed.decode()) if packed else {}
    if not isinstance(doc, dict):
        raise TypeError(f"a catalog is an object, not {type(doc).__name__}")
    return catalog_lists(doc)


def catalog_lists(doc: JSONObject) -> Lists:
    """The four item lists of a catalog object (TypeError unless each is a list of objects)."""
    return (
        _objects(doc.get("tools")),
        _objects(doc.get("prompts")),
        _objects(doc.get("resources")),
        _objects(doc.get("resource_templates")),
    )


def _objects(raw: Any) -> Items:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise TypeError("catalog lists must hold objects")
    return tuple(raw)


def _set(
    catalog: Catalog, lists: Lists | None, packed: bytes | None, counts: tuple[int, ...]
) -> None:
    object.__setattr__(catalog, "_lists", lists)
    object.__setattr__(catalog, "_packed", packed)
    object.__setattr__(catalog, "_counts", counts)


class _Memo:
    """Decoded items of the packed catalogs read last, bounded by their packed size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        # id(packed) -> (packed, lists): holding ``packed`` keeps its id from being reused
        self._held: OrderedDict[int, tuple[bytes, Lists]] = OrderedDict()
        self._bytes = 0

    def get(self, packed: bytes) -> Lists | None:
        with self._lock:
            found = self._held.get(id(packed))
            if found is None or found[0] is not packed:
                return None
            self._held.move_to_end(id(packed))
            return found[1]

    def put(self, packed: bytes, lists: Lists) -> None:
        if len(packed) > self.limit:
            return  # one huge catalog would push out every other
        with self._lock:
            old = self._held.pop(id(packed), None)
            if old is not None:
                self._bytes -= len(old[0])
            self._held[id(packed)] = (packed, lists)
            self._bytes += len(packed)
            while self._bytes > self.limit:
                _, (dropped, _) = self._held.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._bytes = 0


_memo = _Memo(MEMO_BYTES)
EMPTY = Catalog.from_packed(b"{}", ((), (), (), ()))  # what every empty catalog packs to
_set(EMPTY, ((), (), (), ()), b"{}", (0, 0, 0, 0))  # read without a decode
