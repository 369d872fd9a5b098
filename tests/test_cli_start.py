"""The CLI's start stays lean: what a run does not need is not imported before it is needed.

Checked in a fresh interpreter (a subprocess), on module names rather than
times, so a loaded machine cannot make it flaky. The time itself is measured
by ``tests/bench/bench_admission.py`` (``cli_first_spawn``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.discovery.upstream_support import RAW

PROBE = """
import json, sys
from mcp_discoveryd import cli
from mcp_discoveryd.discovery import upstream

seen = {}
real_spawn = upstream.spawn

async def spawn(target):
    seen.setdefault("sdk_before_first_spawn", "mcp" in sys.modules)
    http = sorted(m for m in sys.modules if m.split(".")[0] in ("httpx2", "httpcore2", "h11"))
    seen.setdefault("http_before_first_spawn", http)
    return await real_spawn(target)

upstream.spawn = spawn
code = cli.main(["discover", "--config", sys.argv[1], "--json"])
top = {name.split(".")[0] for name in sys.modules}
otel_sdk = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print(json.dumps({"code": code, **seen, "loaded": sorted(top), "otel_sdk": otel_sdk}), file=sys.stderr)
"""


def _probe(tmp_path: Path) -> dict[str, object]:
    config = tmp_path / "one.toml"
    config.write_text(
        "[gateways.g.servers.one]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps([RAW])}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def test_a_memory_cache_run_never_imports_redis_and_spawns_before_the_sdk(tmp_path: Path) -> None:
    """redis-py is for Redis caches only; the SDK's 0.4 s import comes after the first spawn."""
    result = _probe(tmp_path)
    assert result["code"] == 0
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert "redis" not in loaded
    # the SDK brings the OpenTelemetry API; its SDK and exporters are the daemon's, when on
    assert result["otel_sdk"] == []
    assert "mcp" in loaded  # the run did use the SDK, after the spawn
    assert result["sdk_before_first_spawn"] is False


def test_a_stdio_only_run_imports_no_http_client_before_its_first_spawn(tmp_path: Path) -> None:
    """httpx2 (30-40 ms to import) is for remote upstreams, OAuth and a guardrail provider."""
    result = _probe(tmp_path)
    assert result["code"] == 0
    assert result["http_before_first_spawn"] == []
