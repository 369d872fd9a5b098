"""Export over OTLP to a real receiver: every catalogued instrument, as declared, and the spans.

The daemon runs against real upstreams (``daemon_run.py``); the receiver decodes
what the SDK's exporters sent with opentelemetry-proto, over http/protobuf and gRPC.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from pathlib import Path

import pytest
from tests.actors.support import until
from tests.cache.redis_servers import RedisServer
from tests.telemetry.daemon_run import HEADER_SECRET, run_daemon
from tests.telemetry.receiver import GrpcReceiver, HttpReceiver, Point, Received

from mcp_discoveryd.telemetry import instruments as i

pytestmark = pytest.mark.slow

CATALOGUE = {spec.name: spec for spec in i.INSTRUMENTS}
# Not seen in this run: no actor crashes; backend operations are Redis round trips
# (the memory tier counts none), and so is the pool's gate; no server uses OAuth
# (tests/control/test_busy_redis.py and tests/auth/test_token_clear.py record those).
NOT_IN_RUN = {
    "mcpd.actor.restarts",
    "mcpd.cache.operation.duration",
    "mcpd.cache.pool.waiting",
    "mcpd.cache.pool.busy",
    "mcpd.oauth.tokens.held",
    "mcpd.oauth.token.requests",
}
KINDS = {"counter": "sum", "histogram": "histogram", "gauge": "gauge"}


def by_name(points: list[Point], name: str) -> list[Point]:
    return [p for p in points if p.name == name]


def check_as_declared(received: Received) -> list[Point]:
    """Every point is a catalogued instrument, with its unit, kind, buckets and attributes."""
    points = received.points()
    assert points, "nothing exported"
    for p in points:
        spec = CATALOGUE.get(p.name)
        assert spec is not None, f"{p.name} is not in instruments.py"
        assert p.unit == spec.unit and p.description == spec.description, p.name
        assert p.kind == KINDS[spec.kind], p.name
        assert set(p.attributes) <= set(spec.attributes), (p.name, p.attributes)
        if spec.kind == "histogram":
            assert p.bounds == spec.buckets, p.name
        if spec.kind == "counter":
            assert p.monotonic, p.name
    return points


async def test_a_daemon_run_exports_every_instrument_as_declared_over_http(tmp_path: Path) -> None:
    with HttpReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url)
    check_as_declared(rx.received)
    points = rx.received.latest()
    assert {p.name for p in points} == set(CATALOGUE) - NOT_IN_RUN

    resource = points[0].resource
    assert resource["service.name"] == "mcp-discoveryd"
    assert resource["service.instance.id"] and resource["host.name"]
    assert resource["deployment.environment"] == "test"
    # the configured header reached the receiver on every request
    assert rx.headers and all(
        h.get("authorization") == f"Bearer {HEADER_SECRET}" for h in rx.headers
    )

    ops = by_name(points, "mcp.client.operation.duration")
    methods = {(p.attributes[i.SERVER], p.attributes[i.METHOD]) for p in ops}
    assert {("local", "initialize"), ("local", "tools/list"), ("local", "prompts/list")} <= methods
    assert {("remote", "initialize"), ("remote", "tools/list")} <= methods
    remote = next(p for p in ops if p.attributes[i.SERVER] == "remote")
    assert remote.attributes[i.TRANSPORT] == "tcp" and remote.attributes[i.ADDRESS] == "127.0.0.1"
    assert isinstance(remote.attributes[i.PORT], int) and remote.attributes[i.PROTOCOL]
    local = next(p for p in ops if p.attributes[i.SERVER] == "local")
    assert local.attributes[i.TRANSPORT] == "pipe" and i.ADDRESS not in local.attributes

    runs = by_name(points, "mcpd.discovery.runs")
    seen = {
        (p.attributes[i.SERVER], p.attributes[i.TRIGGER], p.attributes[i.OUTCOME]) for p in runs
    }
    assert {("local", "preload", "success"), ("local", "manual", "success")} <= seen
    assert ("fixed", "manual", "success") in seen  # config-defined: served without a connection
    blocked = by_name(points, "mcpd.tools.blocked")
    assert {(p.attributes[i.SERVER], p.attributes[i.REASON]) for p in blocked} == {
        ("remote", "denied")
    }
    reloads = by_name(points, "mcpd.config.reloads")
    assert [p.attributes[i.OUTCOME] for p in reloads] == ["success"]
    up = {p.attributes[i.SERVER]: p.value for p in by_name(points, "mcpd.upstream.up")}
    assert up == {"local": 1, "remote": 1, "flaky": 0}
    assert ("flaky", "manual", "error") in seen
    leads = by_name(points, "mcpd.refresh.lead")
    assert {p.attributes[i.TRIGGER] for p in leads} == {"manual"}  # the preload had no entry
    changes = by_name(points, "mcpd.tool.changes")
    assert {(p.attributes[i.SERVER], p.attributes[i.CHANGE]) for p in changes} == {
        ("local", "changed")
    }
    results = {p.attributes[i.RESULT] for p in by_name(points, "mcpd.cache.requests")}
    assert "miss" in results


async def test_spans_nest_run_phase_and_server_with_mcp_attributes(tmp_path: Path) -> None:
    with HttpReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url)
    spans = rx.received.spans()
    ids = {s.span_id: s for s in spans}
    runs = [s for s in spans if s.name == "mcpd.discovery"]
    assert {(s.attributes[i.SERVER], s.attributes[i.TRIGGER]) for s in runs} >= {
        ("local", "preload"),
        ("remote", "manual"),
    }
    servers = [s for s in spans if s.name == "mcpd.server" and s.attributes[i.SERVER] == "remote"]
    assert servers
    for server in servers:
        execute = ids[server.parent_id]
        assert execute.name == "mcpd.execute"
        run = ids[execute.parent_id]
        assert run.name == "mcpd.discovery" and run.trace_id == server.trace_id
        assert server.attributes[i.TRANSPORT] == "tcp"
        assert server.attributes[i.ADDRESS] == "127.0.0.1"
        assert server.attributes[i.PROTOCOL]
    # the trace context reached the stdio upstream in each list request's params._meta
    sent = [json.loads(line) for line in (tmp_path / "meta.jsonl").read_text().splitlines()]
    lists = [m for m in sent if m["method"].endswith("/list")]
    assert lists and all(m["_meta"] and "traceparent" in m["_meta"] for m in lists)
    for m in lists:
        _, trace_id, parent_id, _ = m["_meta"]["traceparent"].split("-")
        parent = ids[bytes.fromhex(parent_id)]
        assert parent.name == "mcpd.server" and parent.trace_id.hex() == trace_id
        assert parent.attributes[i.SERVER] == "local"
    validate = [s for s in spans if s.name == "mcpd.validate"]
    assert validate and all(ids[s.parent_id].name == "mcpd.discovery" for s in validate)


async def test_grpc_export_reaches_a_grpc_receiver(tmp_path: Path) -> None:
    with GrpcReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url, protocol="grpc")
    points = check_as_declared(rx.received)
    assert "mcp.client.operation.duration" in {p.name for p in points}
    assert any(s.name == "mcpd.discovery" for s in rx.received.spans())


def closed_port_url() -> str:
    """An http URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("receiver", ["down", "slow"])
async def test_a_receiver_down_or_slow_never_delays_discovery_and_the_stop_is_bounded(
    tmp_path: Path, receiver: str
) -> None:
    """Exports block on the SDK's threads, never the loop; the last flush stops at its bound.

    Each export takes its whole timeout (10 s: refused and retried until then, or not
    answered), and one runs every 0.2 s: an export on the loop would cost the preload and
    the discovery seconds, far more than the second or so a loaded machine's noise moves
    two runs apart (seen: 1.65 s against a 2 s timeout, which is why it is not 2 s).
    """
    slow = HttpReceiver(delay=20.0)  # answers after 20 s: every export times out
    timeout = "10s"
    with slow.running():
        endpoint = closed_port_url() if receiver == "down" else slow.url
        with_export = await run_daemon(tmp_path, endpoint, export_timeout=timeout)
    off = await run_daemon(tmp_path, endpoint, extra="enabled = false", export_timeout=timeout)
    assert with_export.ready < off.ready + 5.0, (with_export, off)
    assert with_export.discover < off.discover + 5.0, (with_export, off)
    assert with_export.stop < 5.0 + 1.5  # shutdown_timeout, then the flush is abandoned
    if receiver == "slow":
        assert slow.requests >= 1  # it was really asked, and really slow
    # The abandoned flush still retries on its thread until its own timeout, drawing its
    # backoff jitter from the global random: hypothesis fails a later test whose draws that
    # moved. Nothing of this test runs on into the next one.
    await until(lambda: not exporting(), limit=30.0)


def exporting() -> bool:
    """Whether any thread is inside an OTLP exporter (an abandoned flush, say)."""
    return any(
        "opentelemetry/exporter" in frame.f_code.co_filename
        for top in sys._current_frames().values()
        for frame, _ in traceback.walk_stack(top)
    )


@pytest.mark.redis
async def test_a_redis_cache_exports_its_operations_and_leases(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with HttpReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url, cache=f'backend = "redis"\nurl = "{redis_server.url}"')
    check_as_declared(rx.received)
    points = rx.received.latest()
    ops = by_name(points, "mcpd.cache.operation.duration")
    assert ops and {p.attributes[i.BACKEND] for p in ops} == {"redis"}
    leases = by_name(points, "mcpd.lease.requests")
    assert {p.attributes[i.LEASE] for p in leases} == {"acquired"}  # alone: never contended
    assert {p.attributes[i.SERVER] for p in leases} >= {"local", "remote"}
