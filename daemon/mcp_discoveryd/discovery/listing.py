"""Listing one connected server's catalog: capability-gated, paginated to the end, bounded.

Each list runs only when the server's capabilities offer it (``resources``
covers both resources and resource templates). Every list is walked to the
end with a page cap and a repeated-cursor guard; the whole catalog has a size
cap. Items are kept in MCP wire shape. A server that advertises prompts or
resources but answers "method not found" for one of those lists gets an empty
list there (common among small servers); tools are never excused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from mcp import Client, MCPError
from mcp_types import METHOD_NOT_FOUND, ListToolsResult, PaginatedResult, RequestParamsMeta
from pydantic import BaseModel

from ..models import CacheHint, Catalog, ErrorKind, JSONObject

PageT = TypeVar("PageT", bound=PaginatedResult)


class CatalogFault(Exception):
    """The listing broke a rule (page cap, repeated cursor, size cap); carries the outcome."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


@dataclass(eq=False)
class PhaseClock:
    """Which step a connection is in (for timeout messages) and how long each step took."""

    durations: dict[str, float] = field(default_factory=dict)
    phase: str = "connect"
    detail: str = ""
    _started: float = field(default_factory=time.monotonic)

    def begin(self, phase: str) -> None:
        self.phase, self.detail, self._started = phase, "", time.monotonic()

    def end(self) -> None:
        self.durations[self.phase] = time.monotonic() - self._started


@dataclass(frozen=True, slots=True)
class ListingLimits:
    """Bounds on one catalog."""

    page_cap: int
    max_bytes: int


async def list_catalog(
    client: Client, limits: ListingLimits, clock: PhaseClock, meta: Mapping[str, str] | None = None
) -> tuple[Catalog, CacheHint]:
    """Every list the server offers, walked to the end; raises CatalogFault past a limit.

    ``meta`` goes in each list request's ``params._meta`` (the W3C trace context).
    """
    request_meta = cast("RequestParamsMeta | None", dict(meta) if meta else None)
    caps = client.server_capabilities
    walker = _Walker(limits, clock)
    tools: list[JSONObject] = []
    hint = CacheHint()
    if caps.tools is not None:
        pages = await walker.walk(
            "tools/list",
            lambda c: client.list_tools(cursor=c, meta=request_meta),
            lambda p: p.tools,
            excusable=False,
        )
        tools = walker.items
        hint = _cache_hint(pages)
    prompts: tuple[JSONObject, ...] = ()
    resources: tuple[JSONObject, ...] = ()
    templates: tuple[JSONObject, ...] = ()
    if caps.prompts is not None:
        await walker.walk(
            "prompts/list",
            lambda c: client.list_prompts(cursor=c, meta=request_meta),
            lambda p: p.prompts,
        )
        prompts = tuple(walker.items)
    if caps.resources is not None:
        await walker.walk(
            "resources/list",
            lambda c: client.list_resources(cursor=c, meta=request_meta),
            lambda p: p.resources,
        )
        resources = tuple(walker.items)
        await walker.walk(
            "resources/templates/list",
            lambda c: client.list_resource_templates(cursor=c, meta=request_meta),
            lambda p: p.resource_templates,
        )
        templates = tuple(walker.items)
    return Catalog(tuple(tools), prompts, resources, templates), hint


class _Walker:
    """Walks one list at a time, sharing the size budget across the whole catalog."""

    def __init__(self, limits: ListingLimits, clock: PhaseClock) -> None:
        self.limits = limits
        self.clock = clock
        self.used_bytes = 0
        self.items: list[JSONObject] = []

    async def walk(
        self,
        method: str,
        fetch: Callable[[str | None], Awaitable[PageT]],
        items_of: Callable[[PageT], Sequence[BaseModel]],
        *,
        excusable: bool = True,
    ) -> list[PageT]:
        """Fetch every page of ``method`` into ``self.items``; return the raw pages."""
        self.clock.begin(method)
        self.items = []
        pages: list[PageT] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            if len(pages) >= self.limits.page_cap:
                raise CatalogFault(
                    ErrorKind.PROTOCOL_ERROR,
                    f"{method} was still paginating after {self.limits.page_cap} pages "
                    f"({len(self.items)} items so far); the server may paginate forever, "
                    "or the page cap is too low for it",
                )
            self.clock.detail = f"page {len(pages) + 1}"
            try:
                page = await fetch(cursor)
            except MCPError as exc:
                if excusable and exc.code == METHOD_NOT_FOUND and not pages:
                    break  # advertised but not implemented: nothing to list
                raise
            pages.append(page)
            for item in items_of(page):
                self._add(method, item.model_dump(by_alias=True, exclude_none=True, mode="json"))
            cursor = page.next_cursor
            if not cursor:
                break
            if cursor in seen:
                raise CatalogFault(
                    ErrorKind.PROTOCOL_ERROR,
                    f"{method} returned a cursor it had already returned (after page "
                    f"{len(pages)}); the listing would loop forever",
                )
            seen.add(cursor)
        self.clock.end()
        return pages

    def _add(self, method: str, item: JSONObject) -> None:
        self.used_bytes += len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
        if self.used_bytes > self.limits.max_bytes:
            raise CatalogFault(
                ErrorKind.OVERSIZED,
                f"catalog is larger than the {self.limits.max_bytes}-byte cap "
                f"(reached during {method}); raise discovery.max_reply_bytes if it is legitimate",
            )
        self.items.append(item)


def _cache_hint(pages: Sequence[ListToolsResult]) -> CacheHint:
    """The server's own ttlMs/cacheScope, only where it sent them: shortest TTL, private wins."""
    ttls: list[float] = []
    private = False
    for page in pages:
        sent = page.model_fields_set  # what the server sent, not the SDK's defaults
        if "ttl_ms" in sent:
            ttls.append(page.ttl_ms / 1000.0)
        if "cache_scope" in sent and page.cache_scope == "private":
            private = True
    return CacheHint(ttl_s=min(ttls) if ttls else None, private=private)
