"""The upstream client against SDK servers in this process: eras, pagination rules, hints."""

from __future__ import annotations

import pytest
from tests.discovery.upstream_support import settings, tool_names
from tests.servers.sdk_servers import HIGH_TOOLS, build_high, build_paged

from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind, UpstreamResult

MODES = pytest.mark.parametrize("mode", ["legacy", "auto"])


async def _fetch(server: object, **overrides: object) -> UpstreamResult:
    async with UpstreamClient(settings(**overrides)) as client:
        return await client.fetch_in_process(server, limit_s=10)  # type: ignore[arg-type]


@MODES
async def test_high_level_server_in_process(mode: str) -> None:
    """Tools, prompts, resources and templates of an in-process MCPServer, in either era."""
    result = await _fetch(build_high(), mode=mode)
    assert tool_names(result) == list(HIGH_TOOLS)
    assert result.catalog is not None
    assert len(result.catalog.prompts) == len(result.catalog.resource_templates) == 1
    assert result.protocol_version == {"legacy": "2025-11-25", "auto": "2026-07-28"}[mode]


@MODES
async def test_hundreds_of_tools_in_small_pages(mode: str) -> None:
    """The low-level paginated server's 500 tools in pages of 3 arrive complete and in order."""
    result = await _fetch(build_paged(500, 3), mode=mode, page_cap=200)
    assert tool_names(result) == [f"paged_{i:04d}" for i in range(500)]


async def test_repeating_cursor_of_a_low_level_server() -> None:
    """The SDK server that repeats its cursor is stopped as a protocol error."""
    result = await _fetch(build_paged(50, 5, repeat_cursor=True))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "cursor" in result.error.message


async def test_page_cap_against_a_low_level_server() -> None:
    """300 tools in pages of 7 need 43 pages: a cap of 40 cuts the listing off."""
    result = await _fetch(build_paged(300, 7), page_cap=40)
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "after 40 pages" in result.error.message


async def test_huge_descriptions_far_past_the_cap() -> None:
    """Hundreds of tools with 50 KB descriptions against a 1 MB cap: oversized_reply."""
    result = await _fetch(build_paged(300, 10, description_bytes=50_000), max_reply_bytes=1_000_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED
    assert result.protocol_version is not None  # what was learnt before the failure is kept


async def test_modern_server_default_hint_is_recorded_as_sent() -> None:
    """An SDK server that sets no hint still sends ttlMs 0 / private in 2026-07-28: kept as sent."""
    result = await _fetch(build_paged(5, 5), mode="auto")
    assert result.ok
    assert result.cache_hint.ttl_s == 0.0 and result.cache_hint.private


async def test_the_first_session_freezes_what_the_imports_made_and_cycles_are_still_collected() -> (
    None
):
    """After the SDK's import the process's objects leave the collector's scans (``gc.freeze``);
    garbage made later, cycles included, is still collected."""
    import gc
    import weakref

    from mcp_discoveryd.discovery import upstream

    gc.unfreeze()
    upstream.settle_imports.cache_clear()
    try:
        assert gc.get_freeze_count() == 0
        result = await _fetch(build_high())
        assert tool_names(result) == list(HIGH_TOOLS)
        assert gc.get_freeze_count() > 10_000  # the SDK's modules and models, at least

        class Node:
            other: object = None

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
