"""The upstream client over stdio, against real child processes: catalogs, faults, cleanup."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest
from tests.conftest import descendants
from tests.discovery.upstream_support import RAW, SLACK, fetch, raw, settings, tool_names

from mcp_discoveryd.discovery.upstream import AUTO_PROBE_TIMEOUT, UpstreamClient
from mcp_discoveryd.models import ErrorKind, ServerSpec, StdioTarget, UpstreamResult

SECRET = "sk-live-0123456789"


async def test_stdio_catalog_keeps_wire_shape_and_session_facts() -> None:
    """Tools come back in MCP wire shape with title, annotations and _meta, plus session facts."""
    result, _ = await fetch(raw("--tools", "2"))
    assert result.ok and result.catalog is not None
    assert result.catalog.tools[1] == {
        "name": "tool_1",
        "title": "Tool 1",
        "description": "Tool number 1. ",
        "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "annotations": {"readOnlyHint": True},
        "_meta": {"example.com/index": 1},
    }
    assert result.protocol_version == "2025-11-25"
    assert result.server_info == {"name": "raw-test", "version": "9.9.9"}
    assert result.capabilities == {"tools": {"listChanged": False}}


async def test_stdio_lists_only_what_capabilities_offer() -> None:
    """Prompts and resources are listed only when advertised; durations show which lists ran."""
    bare, _ = await fetch(raw())
    assert bare.catalog is not None
    assert set(bare.durations) == {"queue", "connect", "tools/list", "close", "total"}
    full, _ = await fetch(raw("--prompts", "--resources"))
    assert full.catalog is not None
    assert [p["name"] for p in full.catalog.prompts] == ["greet"]
    assert [r["uri"] for r in full.catalog.resources] == ["raw://readme"]
    assert [t["uriTemplate"] for t in full.catalog.resource_templates] == ["raw://item/{id}"]
    for phase in (
        "connect",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "total",
    ):
        assert full.durations[phase] >= 0
    assert full.durations["total"] >= full.durations["connect"]


async def test_stdio_paginates_to_the_end() -> None:
    """Hundreds of tools in small pages arrive complete and in order."""
    result, _ = await fetch(raw("--tools", "250", "--page-size", "7"))
    assert tool_names(result) == [f"tool_{i}" for i in range(250)]


async def test_repeated_cursor_is_a_protocol_error() -> None:
    """A cursor the server already sent ends the listing as a protocol error."""
    result, _ = await fetch(raw("--tools", "30", "--page-size", "5", "--repeat-cursor"))
    assert result.error is not None and result.catalog is None
    assert result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "already returned" in result.error.message


async def test_page_cap_stops_an_endless_listing() -> None:
    """A listing past the page cap is cut off as a protocol error that names the cap."""
    result, _ = await fetch(raw("--tools", "100", "--page-size", "1"), page_cap=20)
    assert result.error is not None
    assert result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "after 20 pages" in result.error.message


async def test_catalog_past_the_size_cap_is_oversized() -> None:
    """Many pages that add up past max_reply_bytes give an oversized_reply error."""
    spec = raw("--tools", "400", "--page-size", "20", "--description-bytes", "5000")
    result, _ = await fetch(spec, max_reply_bytes=200_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED
    assert "200000-byte cap" in result.error.message


async def test_one_reply_line_past_the_cap_is_cut_off() -> None:
    """A single 5 MB reply line is refused at the transport, not buffered."""
    result, _ = await fetch(raw("--huge-line", "5000000"), max_reply_bytes=100_000)
    assert result.error is not None and result.error.kind is ErrorKind.OVERSIZED
    assert "tools/list" in result.error.message


async def test_server_exiting_at_once_reports_exit_code_and_stderr() -> None:
    """A server that exits before the handshake: exit code and its last stderr line, redacted."""
    spec = raw("--stderr", f"fatal: bad key {SECRET}", "--exit-code", "3", env={"KEY": SECRET})
    result, _ = await fetch(spec)
    assert result.error is not None
    assert result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "exited before the handshake finished (exit code 3)" in result.error.message
    assert result.error.stderr_tail == ("fatal: bad key ***",)
    assert SECRET not in result.error.message


async def test_stderr_tail_keeps_the_last_lines() -> None:
    """Only the last 20 stderr lines are kept."""
    lines = [f"--stderr=line {i}" for i in range(30)]
    result, _ = await fetch(raw(*lines, "--exit-code", "1"))
    assert result.error is not None
    assert result.error.stderr_tail == tuple(f"line {i}" for i in range(10, 30))


async def test_stdout_garbage_fails_fast() -> None:
    """A server flooding stdout with non-JSON-RPC lines fails long before its deadline."""
    result, elapsed = await fetch(raw("--garbage", "100", "--hang", timeout=20))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "not JSON-RPC" in result.error.message
    assert "garbage line 0" in result.error.message
    assert elapsed < 10


async def test_one_banner_line_is_tolerated() -> None:
    """A single stray stdout line before the protocol starts does not fail the server."""
    result, _ = await fetch(raw("--garbage", "1"))
    assert tool_names(result) == ["tool_0", "tool_1", "tool_2"]


async def test_some_garbage_then_silence_is_blamed_on_the_garbage() -> None:
    """At the deadline, stray stdout output is named as the likely cause."""
    result, _ = await fetch(raw("--garbage", "2", "--hang", timeout=1))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "did not finish within 1 s" in result.error.message


async def test_json_rpc_error_on_tools_is_a_protocol_error() -> None:
    """A JSON-RPC error answering tools/list is reported with its code and message."""
    result, _ = await fetch(raw("--fail", "tools/list=-32603"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "tools/list (page 1) with JSON-RPC error -32603" in result.error.message
    assert result.server_info == {"name": "raw-test", "version": "9.9.9"}  # learnt before


async def test_unimplemented_optional_list_is_empty() -> None:
    """Prompts advertised but answered with "method not found" list as empty, not as a failure."""
    result, _ = await fetch(raw("--prompts", "--fail", "prompts/list=-32601"))
    assert result.ok and result.catalog is not None
    assert result.catalog.prompts == ()


async def test_reply_outside_the_schema_is_a_protocol_error() -> None:
    """A tool without a name breaks the MCP schema: protocol_error naming the problem."""
    result, _ = await fetch(raw("--bad-tool"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "does not follow the MCP schema" in result.error.message


async def test_unsupported_protocol_version_is_a_protocol_error() -> None:
    """A handshake answered with a version the client does not speak fails the connection."""
    result, _ = await fetch(raw("--protocol", "1999-01-01"))
    assert result.error is not None and result.error.kind is ErrorKind.PROTOCOL_ERROR
    assert "1999-01-01" in result.error.message


@pytest.mark.slow
async def test_auto_mode_probe_is_short_for_servers_that_ignore_it() -> None:
    """In auto mode a server that ignores server/discover costs the lowered probe, not 10 s."""
    result, elapsed = await fetch(raw("--ignore-unknown"), mode="auto")
    assert result.ok and result.protocol_version == "2025-11-25"
    assert AUTO_PROBE_TIMEOUT <= elapsed < AUTO_PROBE_TIMEOUT + SLACK


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (StdioTarget("/nonexistent/mcp-server"), "not found"),
        (StdioTarget("no-such-mcp-server-xyz"), "not found"),
        (StdioTarget(sys.executable, (RAW,), cwd="/nonexistent-dir"), "does not exist"),
    ],
    ids=["missing-path", "missing-on-path", "bad-cwd"],
)
async def test_spawn_failures(target: StdioTarget, expected: str) -> None:
    """Missing binaries, non-executables and bad working directories are spawn_failed."""
    result, _ = await fetch(ServerSpec(name="bad", target=target))
    assert result.error is not None
    assert result.error.kind is ErrorKind.SPAWN_FAILED
    assert expected in result.error.message


async def test_non_executable_command_is_a_spawn_failure(tmp_path: Path) -> None:
    """A command file without execute permission is spawn_failed with permission denied."""
    script = tmp_path / "server"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    result, _ = await fetch(ServerSpec(name="bad", target=StdioTarget(str(script))))
    assert result.error is not None and result.error.kind is ErrorKind.SPAWN_FAILED
    assert "permission denied" in result.error.message


async def test_secrets_in_argv_never_reach_the_message() -> None:
    """Arguments (which may hold secrets) are not quoted in error messages."""
    spec = ServerSpec(name="bad", target=StdioTarget("/nonexistent/bin", ("--token", SECRET)))
    result, _ = await fetch(spec)
    assert result.error is not None and SECRET not in result.error.message


async def test_ttl_hint_from_a_legacy_session_is_ignored() -> None:
    """ttlMs belongs to the 2026-07-28 era: a classic-handshake server's copy is not a hint."""
    result, _ = await fetch(raw("--ttl-ms", "5000"))
    assert result.ok
    assert result.cache_hint.ttl_s is None and not result.cache_hint.private


@pytest.mark.slow
async def test_hanging_server_times_out_at_the_deadline() -> None:
    """A server that never answers is a timeout, returned within the deadline plus slack."""
    result, elapsed = await fetch(raw("--hang", timeout=1))
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "within 1 s" in result.error.message and "handshake" in result.error.message
    assert 0.9 <= elapsed < 1 + SLACK


@pytest.mark.slow
async def test_sigterm_ignoring_server_is_killed_within_the_deadline() -> None:
    """A hung server that ignores SIGTERM is SIGKILLed; the wall time stays near the deadline."""
    result, elapsed = await fetch(raw("--hang", "--ignore-term", timeout=1))
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert elapsed < 1 + SLACK


@pytest.mark.slow
async def test_deadline_covers_the_listing() -> None:
    """A server slow on every page times out in the listing, naming the page it was on."""
    spec = raw("--tools", "50", "--page-size", "5", "--slow-ms", "300", timeout=1.5)
    result, elapsed = await fetch(spec)
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "tools/list (page" in result.error.message
    assert elapsed < 1.5 + SLACK


@pytest.mark.slow
async def test_deadline_covers_the_close() -> None:
    """A server that will not exit after its stdin closes is killed by the deadline."""
    result, elapsed = await fetch(raw("--linger", "--ignore-term", timeout=1.5))
    assert result.ok, result.error  # the catalog was complete before the close
    assert elapsed < 1.5 + SLACK


async def test_grandchild_is_killed_with_its_server() -> None:
    """A background process the server started in its group dies when the server is closed."""
    result, _ = await fetch(raw("--grandchild"))
    assert result.ok
    leftovers = [p for p in descendants().values() if "sleep 300" in p.cmdline and p.state != "Z"]
    assert leftovers == []


async def test_no_child_is_left_after_any_outcome() -> None:
    """After success, crash, garbage and timeout, pytest has no live child at all."""
    for spec in (
        raw(),
        raw("--exit-code", "2"),
        raw("--garbage", "50"),
        raw("--hang", timeout=0.5),
    ):
        await fetch(spec)
        live = [p for p in descendants().values() if p.state != "Z" and RAW in p.cmdline]
        assert live == [], live


async def test_deadline_starts_after_the_spawn_slot() -> None:
    """Waiting for a spawn slot is reported as queue time and does not eat the deadline."""
    results: list[UpstreamResult] = []
    async with UpstreamClient(settings(max_concurrent_spawns=1)) as client:

        async def one() -> None:
            results.append(await client.fetch(raw("--slow-ms", "200", timeout=1.2)))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(one)
    assert all(r.ok for r in results), [r.error for r in results]
    assert max(r.durations["queue"] for r in results) > 0.3
    assert time.monotonic() - started > 1.2  # longer than one deadline: the queue did not count
