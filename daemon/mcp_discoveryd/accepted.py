"""Accepted tool definitions (rug-pull detection), held compactly.

An accepted tool is its name, the SHA-256 digest of its covered fields and of
each field, and its description (``discovery/guardrails/tooldiff`` makes them).
Held as hex strings in (field, hash) pairs, 50,000 tools took ~66 MB of a loaded
daemon; so digests are bytes, and a cache entry holds its whole accepted set as
one bytes object (``AcceptedSet``), read back as ``AcceptedTool`` values at the
next refresh, the only time it is read. The stored form (``to_json``) is
unchanged: ``"sha256:<hex>"`` strings.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

JSONObject = dict[str, Any]  # as models.JSONObject (models imports this module)

# The fields a tool's definition covers, in the order a packed set records them.
COVERED = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


DIGEST = "sha256:"  # how a digest is written in the stored form: "sha256:<64 hex digits>"


@dataclass(frozen=True, slots=True)
class AcceptedTool:
    """An accepted tool definition: the SHA-256 of it and of each covered field, its description."""

    name: str
    digest: bytes  # of the covered fields together (32 bytes)
    covered: tuple[str, ...] = ()  # the covered fields present, in field_digests' order
    field_digests: bytes = b""  # 32 bytes per covered field
    description: str = ""  # kept to show what a later description changed

    @classmethod
    def of(
        cls, name: str, digest: bytes, fields: Sequence[tuple[str, bytes]], description: str = ""
    ) -> AcceptedTool:
        """One accepted tool from its digests: (field, digest) per covered field present."""
        # _SHAPES holds field lists in their one order only: fields listed as one of them
        # (as tooldiff lists them) need no sorting.
        covered = _SHAPES.get(tuple([f for f, _ in fields]))
        if covered is None:
            fields = sorted(fields, key=lambda f: _ORDER.get(f[0], len(COVERED)))  # one order
            covered = _shared(tuple(f for f, _ in fields))
        if len(digest) != _DIGEST_SIZE or any(len(d) != _DIGEST_SIZE for _, d in fields):
            raise ValueError("a tool digest is 32 bytes")
        joined = b"".join([d for _, d in fields])
        return cls(sys.intern(name), digest, covered, joined, description)

    @property
    def hash(self) -> str:
        """The content hash as stored: ``sha256:<hex>``."""
        return DIGEST + self.digest.hex()

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """(field, hash as stored) of each covered field present."""
        size = _DIGEST_SIZE
        return tuple(
            (f, DIGEST + self.field_digests[i * size : (i + 1) * size].hex())
            for i, f in enumerate(self.covered)
        )

    def field_digest(self, name: str) -> bytes | None:
        """The digest of one covered field, or None when the tool has no such field."""
        if name not in self.covered:
            return None
        i = self.covered.index(name) * _DIGEST_SIZE
        return self.field_digests[i : i + _DIGEST_SIZE]

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "hash": self.hash,
            "fields": dict(self.fields),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, raw: JSONObject) -> AcceptedTool:
        """The stored form read back; TypeError/KeyError/ValueError when malformed."""
        fields = raw.get("fields", {})
        if not isinstance(fields, dict):
            raise TypeError("accepted tool fields must be an object")
        return cls.of(
            name=str(raw["name"]),
            digest=_digest(raw["hash"]),
            fields=[(str(k), _digest(v)) for k, v in fields.items()],
            description=str(raw.get("description", "")),
        )


_DIGEST_SIZE = 32
_ORDER = {f: i for i, f in enumerate(COVERED)}
_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}  # field-name tuples, one object each


def _shared(names: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object per distinct field list (a few dozen exist), bounded all the same."""
    found = _SHAPES.get(names)
    if found is not None:
        return found
    names = tuple(sys.intern(n) for n in names)
    if len(_SHAPES) < 256:  # a stored form from elsewhere could list any names
        _SHAPES[names] = names
    return names


def _digest(stored: object) -> bytes:
    """A digest from its stored form ``sha256:<hex>``; ValueError for anything else."""
    if not isinstance(stored, str) or not stored.startswith(DIGEST):
        raise ValueError(f"not a sha256 digest: {stored!r:.80}")
    digest = bytes.fromhex(stored[len(DIGEST) :])
    if len(digest) != _DIGEST_SIZE:
        raise ValueError("a sha256 digest is 32 bytes")
    return digest


_LENGTH = struct.Struct("<I")


class AcceptedSet(Sequence[AcceptedTool]):
    """An accepted tool set as one bytes object; a sequence of ``AcceptedTool`` when read.

    Per tool: name length and UTF-8, digest, a bit per ``COVERED`` field present, those
    fields' digests, description length and UTF-8.
    """

    __slots__ = ("_count", "_packed")

    def __init__(self, packed: bytes, count: int) -> None:
        self._packed = packed
        self._count = count

    @classmethod
    def pack(cls, tools: Iterable[AcceptedTool]) -> Sequence[AcceptedTool]:
        """The set packed; as given (a tuple) when a tool records a field outside ``COVERED``."""
        if isinstance(tools, AcceptedSet):
            return tools
        tools = tuple(tools)
        parts: list[bytes] = []
        for tool in tools:
            if not set(tool.covered) <= _COVERED_SET:
                return tools  # a stored form from a daemon that covers more: kept whole
            mask = sum(1 << COVERED.index(f) for f in tool.covered)
            digests = b"".join(tool.field_digest(f) or b"" for f in COVERED if f in tool.covered)
            name = tool.name.encode("utf-8", "surrogatepass")
            description = tool.description.encode("utf-8", "surrogatepass")
            parts += (_LENGTH.pack(len(name)), name, tool.digest, bytes((mask,)), digests)
            parts += (_LENGTH.pack(len(description)), description)
        return cls(b"".join(parts), len(tools))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[AcceptedTool]:
        data, at = self._packed, 0
        for _ in range(self._count):
            (size,) = _LENGTH.unpack_from(data, at)
            name = data[at + 4 : at + 4 + size].decode("utf-8", "surrogatepass")
            at += 4 + size
            digest, mask = data[at : at + _DIGEST_SIZE], data[at + _DIGEST_SIZE]
            at += _DIGEST_SIZE + 1
            covered = _MASKS[mask]
            digests = data[at : at + _DIGEST_SIZE * len(covered)]
            at += len(digests)
            (size,) = _LENGTH.unpack_from(data, at)
            description = data[at + 4 : at + 4 + size].decode("utf-8", "surrogatepass")
            at += 4 + size
            yield AcceptedTool(sys.intern(name), digest, covered, digests, description)

    @overload
    def __getitem__(self, index: int) -> AcceptedTool: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AcceptedTool]: ...

    def __getitem__(self, index: int | slice) -> AcceptedTool | Sequence[AcceptedTool]:
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AcceptedSet):
            return self._packed == other._packed
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # equal to the tuple of its tools, so hashed as one

    def __repr__(self) -> str:
        return f"AcceptedSet({len(self)} tools, {len(self._packed)} bytes)"


_COVERED_SET = frozenset(COVERED)
_MASKS = tuple(  # mask -> the covered fields it names, one shared tuple each
    _shared(tuple(f for i, f in enumerate(COVERED) if m & (1 << i))) for m in range(64)
)
