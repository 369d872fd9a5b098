"""Upstream OAuth benchmark (issue 14). Prints one JSON object.

    .venv/bin/python -m tests.bench.bench_oauth [--servers N] [--rounds R]

N (default 50) OAuth-protected remote upstreams share one authorization
server; the same N servers without auth are served by the same process. After
one cold round (each (server, client) gets its token), R rounds alternate
between the two sets; the wall time of one discovery of all N is compared
(median, warm token cache against no auth: target <= 1.1x), and the token
requests made are counted (target: one per (server, client) until expiry).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import anyio
from tests.auth.authserver import AuthServer, build_app
from tests.auth.support import oauth, protected
from tests.discovery.upstream_support import settings
from tests.servers.http_harness import serve_app

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, UpstreamResult


async def _all(client: UpstreamClient, specs: list[ServerSpec]) -> tuple[float, int]:
    """Wall time of one discovery of every spec at once, and how many failed."""
    results: list[UpstreamResult] = []

    async def one(spec: ServerSpec) -> None:
        results.append(await client.fetch(spec))

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for spec in specs:
            tg.start_soon(one, spec)
    return time.perf_counter() - started, sum(r.error is not None for r in results)


async def measure(servers: int = 50, rounds: int = 7) -> dict[str, Any]:
    """The benchmark's figures."""
    names = [f"u{i}" for i in range(servers)]
    auth = AuthServer(expires_in=3600)
    app, _ = build_app(auth, names, open_names=names)
    async with serve_app(app) as base:
        auth.base = base
        spec = oauth(f"{base}/token")
        guarded = [protected(base, n, spec, timeout=30) for n in names]
        plain = [
            ServerSpec(name=n, target=remote_target(f"{base}/o/{n}/mcp"), timeout=30) for n in names
        ]
        async with UpstreamClient(settings()) as client:
            cold, cold_failed = await _all(client, guarded)
            await _all(client, plain)  # connections warm for both sets
            warm_times, plain_times, failed = [], [], cold_failed
            for _ in range(rounds):
                took, bad = await _all(client, plain)
                plain_times.append(took)
                failed += bad
                took, bad = await _all(client, guarded)
                warm_times.append(took)
                failed += bad
    warm, bare = statistics.median(warm_times), statistics.median(plain_times)
    return {
        "servers": servers,
        "rounds": rounds,
        "cold_oauth_s": round(cold, 4),
        "warm_oauth_median_s": round(warm, 4),
        "no_auth_median_s": round(bare, 4),
        "warm_over_no_auth": round(warm / bare, 3),
        "target_ratio": 1.1,
        "token_requests": len(auth.requests),
        "clients": servers,  # one (server, client) pair per upstream
        "token_requests_per_client": round(len(auth.requests) / servers, 3),
        "failed_discoveries": failed,
    }


def collect(servers: int = 50, rounds: int = 7) -> dict[str, Any]:
    """Run the benchmark (its own event loop)."""
    result: dict[str, Any] = anyio.run(measure, servers, rounds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(collect(args.servers, args.rounds), indent=2))


if __name__ == "__main__":
    main()
