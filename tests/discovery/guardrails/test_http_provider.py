"""The HTTP guardrail provider against real providers over uvicorn: allow, block, down, slow,
verdict cache, batches and their concurrency bound."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pytest
from tests.discovery.guardrails.provider_support import (
    Recorder,
    Scripted,
    closed_port_url,
    provider_for,
    settings,
)
from tests.servers.http_harness import serve_app

from examples.guardrail_provider import make_app
from mcp_discoveryd.config.toml import load_toml
from mcp_discoveryd.discovery.guardrails import wire
from mcp_discoveryd.discovery.guardrails.http_provider import HttpGuardrailProvider, VerdictCache
from mcp_discoveryd.discovery.guardrails.provider import configured_guardrails
from mcp_discoveryd.discovery.phases import run_discovery
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import JSONObject, ServerSpec, StdioTarget
from mcp_discoveryd.report import server_json

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "daemon" / "examples" / "servers" / "demo_server.py"
SPEC = ServerSpec("notes", StdioTarget("node", ("server.js",)))
TOOLS: list[JSONObject] = [
    {"name": "read", "description": "Read a file."},
    {"name": "wipe", "description": "Delete everything on the disk."},
]
DOWN_CLOSED = "guardrail provider 'test' unreachable (ConnectError); blocked (fail-closed)"


def names(tools: object) -> list[str]:
    assert isinstance(tools, tuple | list)
    return [str(t["name"] if isinstance(t, dict) else t.name) for t in tools]


async def test_the_reference_provider_allows_what_it_has_no_pattern_for() -> None:
    """Clean servers and tools pass; the built-in verdicts are unchanged."""
    async with provider_for(make_app(["delete"])) as provider:
        checks = provider.guardrails()
        assert await checks.check_servers([SPEC]) == [()]
        verdict = await checks.check_tools(SPEC, TOOLS[:1])
    assert names(verdict.kept) == ["read"] and verdict.blocked == () and verdict.warnings == ()


async def test_blocks_reach_the_report_with_the_providers_reasons() -> None:
    """A discovered server's tool and a server the provider refuses, end to end from TOML:
    blocked_tools and violations carry the provider's reasons; built-in checks still run."""
    app = make_app(block_description=["add a note"], block_server=["forbidden"])
    async with serve_app(app) as base:
        text = f"""
[guardrails.provider]
url = "{base}/check"
name = "ref"
[gateways.g.servers.notes]
command = "{sys.executable}"
args = ["{DEMO}", "notes"]
[gateways.g.servers.weather]
command = "{sys.executable}"
args = ["{DEMO}", "weather"]
[gateways.g.servers.bad]
command = "forbidden-tool"
"""
        config = load_toml(text, "<test>", {})
        async with configured_guardrails(config) as checks, UpstreamClient(config.discovery) as up:
            report = await run_discovery(config, up, checks=checks)
    by_name = {o.server_name: server_json(o) for o in report.outcomes}
    notes, weather, bad = by_name["notes"], by_name["weather"], by_name["bad"]
    assert notes["blocked_tools"] == [
        {
            "name": "add_note",
            "reasons": [
                "guardrail provider 'ref': description matches blocked pattern 'add a note'"
            ],
        }
    ]
    assert [t["name"] for t in notes["tools"]] == ["list_notes", "read_note"]
    assert bad["blocked"] is True
    assert bad["violations"] == ["guardrail provider 'ref': matches blocked pattern 'forbidden'"]
    # the poisoned tool is blocked by the built-in checks, and never sent to the provider
    assert [b["name"] for b in weather["blocked_tools"]] == ["get_alerts"]
    assert app.state.tools == 3 + 1  # notes' three, weather's clean one


async def test_a_provider_that_is_down_blocks_with_a_reason_by_default() -> None:
    """Nothing listening: the server and every tool are blocked, saying why (fail-closed)."""
    async with HttpGuardrailProvider(settings(closed_port_url())) as provider:
        checks = provider.guardrails()
        assert await checks.check_servers([SPEC]) == [(DOWN_CLOSED,)]
        verdict = await checks.check_tools(SPEC, TOOLS)
    assert verdict.kept == ()
    assert [(b.name, b.reasons) for b in verdict.blocked] == [
        ("read", (DOWN_CLOSED,)),
        ("wipe", (DOWN_CLOSED,)),
    ]


async def test_a_provider_that_is_down_allows_and_warns_when_fail_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """fail = "open": everything passes, each tool carries a warning, and the log says so."""
    caplog.set_level(logging.WARNING)
    async with HttpGuardrailProvider(settings(closed_port_url(), fail="open")) as provider:
        checks = provider.guardrails()
        assert await checks.check_servers([SPEC]) == [()]
        verdict = await checks.check_tools(SPEC, TOOLS)
    assert names(verdict.kept) == ["read", "wipe"] and verdict.blocked == ()
    reason = "guardrail provider 'test' unreachable (ConnectError); allowed unchecked (fail-open)"
    assert [(w.name, w.reasons) for w in verdict.warnings] == [
        ("read", (reason,)),
        ("wipe", (reason,)),
    ]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("allowed (fail-open)" in m and "notes" in m for m in logged)
    assert sum("tools allowed (fail-open)" in m for m in logged) == 1  # once per failure


async def test_a_provider_slower_than_its_timeout_blocks_in_time() -> None:
    """A provider that answers after 5 s with a 0.3 s timeout: blocked at about 0.3 s."""
    slow = Scripted(body=b'{"allow": true, "reasons": []}', delay=5.0)
    async with provider_for(slow, timeout=0.3) as provider:
        checks = provider.guardrails()
        started = time.monotonic()
        violations = await checks.check_servers([SPEC])
        verdict = await checks.check_tools(SPEC, TOOLS)
        took = time.monotonic() - started
    reason = "guardrail provider 'test' timed out after 0.3 s; blocked (fail-closed)"
    assert violations == [(reason,)]
    assert [b.reasons for b in verdict.blocked] == [(reason,), (reason,)]
    assert took < 3.0  # two timeouts, not two 5 s waits


async def test_a_provider_error_status_blocks_and_its_text_is_not_quoted() -> None:
    """An HTTP 500 whose body echoes something is reported by its status alone."""
    failing = Scripted(status=500, body=b"secret-ish internal trace")
    async with provider_for(failing) as provider:
        (violations,) = await provider.guardrails().check_servers([SPEC])
    assert violations == ("guardrail provider 'test' answered HTTP 500; blocked (fail-closed)",)


async def test_unchanged_tools_and_servers_are_not_sent_again() -> None:
    """The second check of the same tools makes no request; a changed tool alone is sent."""
    app = make_app(["delete"])
    async with provider_for(app) as provider:
        checks = provider.guardrails()
        first = await checks.check_tools(SPEC, TOOLS)
        await checks.check_servers([SPEC])
        assert (app.state.requests, app.state.tools) == (2, 2)
        again = await checks.check_tools(SPEC, TOOLS)
        await checks.check_servers([SPEC])
        assert (app.state.requests, app.state.tools) == (2, 2)  # both from the verdict cache
        changed = [TOOLS[0], {**TOOLS[1], "description": "Wipe nothing."}]
        third = await checks.check_tools(SPEC, changed)
    assert (app.state.requests, app.state.tools) == (3, 3)
    assert again == first
    assert names(first.blocked) == ["wipe"] and names(third.kept) == ["read", "wipe"]


async def test_failures_are_not_cached() -> None:
    """A provider that failed once is asked again, and its later answer is used."""
    flaky = Scripted(status=503)
    async with provider_for(flaky) as provider:
        checks = provider.guardrails()
        assert (await checks.check_servers([SPEC]))[0] != ()
        flaky.status, flaky.body = 200, b'{"allow": true}'
        assert await checks.check_servers([SPEC]) == [()]
    assert flaky.requests == 2


async def test_tools_go_in_batches_with_bounded_concurrency() -> None:
    """120 tools, batches of 50, one request at a time: three requests, never two at once."""
    recorder = Recorder(make_app())
    tools: list[JSONObject] = [{"name": f"t{i}", "description": f"Tool {i}."} for i in range(120)]
    async with provider_for(recorder, batch_size=50, concurrency=1) as provider:
        verdict = await provider.guardrails().check_tools(SPEC, tools)
    sizes = [len(json.loads(seen.body)["tools"]) for seen in recorder.seen]
    assert sorted(sizes) == [20, 50, 50]
    assert len(verdict.kept) == 120


async def test_concurrency_bounds_requests_in_flight_across_servers() -> None:
    """Eight servers' checks at once through concurrency 2: at most two requests in flight."""
    slowish = Scripted(body=b'{"allow": true}', delay=0.2)
    specs = [ServerSpec(f"s{i}", StdioTarget("node")) for i in range(8)]
    async with provider_for(slowish, concurrency=2) as provider:
        assert await provider.guardrails().check_servers(specs) == [()] * 8
    assert slowish.requests == 8 and slowish.most_in_flight == 2


async def test_a_partial_answer_decides_the_tools_it_names_and_fails_the_rest() -> None:
    """Verdicts for some tools only (and one for a tool never sent): the named ones are used,
    the others are blocked as garbled."""
    first = wire.content_id("tool", wire.server_view(SPEC), TOOLS[0])
    verdicts = [{"id": first, "allow": True}, {"id": "0" * 64, "allow": False}]
    partial = Scripted(body=json.dumps({"verdicts": verdicts}).encode())
    async with provider_for(partial) as provider:
        verdict = await provider.guardrails().check_tools(SPEC, TOOLS)
    assert names(verdict.kept) == ["read"]
    garbled = "guardrail provider 'test' answered garbage (no verdict for the tool); "
    assert [(b.name, b.reasons) for b in verdict.blocked] == [
        ("wipe", (garbled + "blocked (fail-closed)",))
    ]


def test_the_verdict_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    """Past its size the oldest unused verdict goes; a read keeps one; size 0 keeps none."""
    cache = VerdictCache(2)
    cache.put("a", ())
    cache.put("b", ("no",))
    assert cache.get("a") == ()
    cache.put("c", ())
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == ((), None, (), 2)
    off = VerdictCache(0)
    off.put("a", ())
    assert off.get("a") is None


async def test_without_a_provider_configured_the_builtin_checks_alone_run() -> None:
    """configured_guardrails of a config without [guardrails.provider] has no provider."""
    config = load_toml('[gateways.g.servers.s]\ncommand = "node"\n', "<test>", {})
    async with configured_guardrails(config) as checks:
        assert checks.provider is None


async def test_a_block_without_reasons_says_so_and_long_answers_are_bounded() -> None:
    """No reasons still blocks, with one saying who; 30 reasons of 1000 characters become
    20 of at most 500, each naming the provider."""
    bare = Scripted(body=b'{"allow": false}')
    async with provider_for(bare) as provider:
        (violations,) = await provider.guardrails().check_servers([SPEC])
    assert violations == ("guardrail provider 'test' blocked it (no reason given)",)
    reasons = [f"{i:02d}" + "x" * 1000 for i in range(30)]
    flood = Scripted(body=json.dumps({"allow": False, "reasons": reasons}).encode())
    async with provider_for(flood) as provider:
        (violations,) = await provider.guardrails().check_servers([SPEC])
    prefix = "guardrail provider 'test': "
    assert len(violations) == 20 and violations[0] == prefix + "00" + "x" * 498
