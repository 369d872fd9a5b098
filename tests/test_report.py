"""Reports for people and programs: the JSON shape, the table and the progress line."""

from __future__ import annotations

import io

from mcp_discoveryd.models import (
    BlockedTool,
    Catalog,
    DiscoveryReport,
    ErrorKind,
    ServerOutcome,
    UpstreamError,
)
from mcp_discoveryd.render import Progress, render_table
from mcp_discoveryd.report import report_json


def outcome(gateway: str, name: str, ok: bool = True) -> ServerOutcome:
    if ok:
        return ServerOutcome(
            gateway_id=gateway,
            server_name=name,
            status="success",
            source="discovery",
            catalog=Catalog(tools=({"name": "t", "inputSchema": {"type": "object"}},)),
            blocked_tools=(BlockedTool("bad", ("denied by pattern 'b*'",)),),
            duration_s=0.25,
        )
    return ServerOutcome(
        gateway_id=gateway,
        server_name=name,
        status="error",
        source="discovery",
        error=UpstreamError(ErrorKind.TIMEOUT, "no answer within 5s"),
    )


def test_report_keys_by_server_for_one_gateway_and_by_path_for_several() -> None:
    """One gateway keys servers by name; several gateways key them as gateway/server."""
    one = report_json(DiscoveryReport((outcome("g", "a"), outcome("g", "b", ok=False)), 1.0))
    assert list(one["available_servers"]) == ["a", "b"]
    assert one["status"] == "partial"
    assert one["discovery_failed_servers"] == ["b"]
    assert one["available_servers"]["b"]["error"] == {
        "kind": "timeout",
        "message": "no answer within 5s",
    }
    assert one["available_servers"]["a"]["blocked_reasons"] == ["denied by pattern 'b*'"]
    several = report_json(DiscoveryReport((outcome("g", "a"), outcome("h", "a")), 1.0))
    assert list(several["available_servers"]) == ["g/a", "h/a"]
    assert several["status"] == "success"


def test_every_server_failing_is_an_error_not_a_success() -> None:
    """The top-level status never hides failures: all failed is "error"."""
    report = DiscoveryReport((outcome("g", "a", ok=False), outcome("g", "b", ok=False)), 1.0)
    assert report_json(report)["status"] == "error"


def test_table_lists_each_server_with_its_note_and_a_summary() -> None:
    """The table has a row per server, the failure's kind in its note, and a summary line."""
    text = render_table(DiscoveryReport((outcome("g", "a"), outcome("g", "b", ok=False)), 1.5))
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["a", "success", "discovery", "1"]
    assert "bad: denied by pattern 'b*'" in lines[1]
    assert lines[2].endswith("timeout: no answer within 5s")
    assert lines[-1] == "status: partial (1/2 servers ok) in 1.50s"


def test_progress_line_counts_done_running_and_failed() -> None:
    """The live line is rewritten in place as servers finish, then cleared."""
    stream = io.StringIO()
    progress = Progress(stream)
    progress.total = 3
    progress.show()
    progress.advance(outcome("g", "a"))
    progress.advance(outcome("g", "b", ok=False))
    frames = stream.getvalue().split("\r\x1b[2K")
    assert frames[1:] == [
        "discovering: 0/3 done, 3 running",
        "discovering: 1/3 done, 2 running",
        "discovering: 2/3 done, 1 running, 1 failed",
    ]
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[2K")


def test_a_stale_catalog_is_marked_in_json_and_table() -> None:
    """A catalog served stale after a failed refresh says so, with the refresh error."""
    stale = ServerOutcome(
        gateway_id="g",
        server_name="a",
        status="success",
        source="cache",
        catalog=Catalog(tools=({"name": "t", "inputSchema": {"type": "object"}},)),
        error=UpstreamError(ErrorKind.SPAWN_FAILED, "exited with status 4"),
        stale=True,
    )
    report = DiscoveryReport((stale, outcome("g", "b")), 1.0)
    servers = report_json(report)["available_servers"]
    assert servers["a"]["stale"] is True and servers["b"]["stale"] is False
    assert servers["a"]["source"] == "cache" and servers["a"]["error"]["kind"] == "spawn_failed"
    row = render_table(report).splitlines()[1]
    assert row.split()[:4] == ["a", "success", "cache", "(stale)"]
    assert "spawn_failed: exited with status 4" in row
