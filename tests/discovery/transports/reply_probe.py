"""Fetch one remote upstream with a 1 MiB reply cap; print its error kind and peak RSS growth.

    python tests/discovery/transports/reply_probe.py URL TRANSPORT

Run as its own process so that the peak resident set (``ru_maxrss``, a
high-water mark) measures this fetch alone: imports and the shared client are
made before the "before" reading.
"""

from __future__ import annotations

import json
import resource
import sys

import anyio

from mcp_discoveryd.config.settings import DiscoverySettings
from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ServerSpec, Transport

CAP = 1024 * 1024


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def _main(url: str, transport: str) -> None:
    spec = ServerSpec("bomb", remote_target(url, Transport(transport)), timeout=30)
    async with UpstreamClient(DiscoverySettings(max_reply_bytes=CAP)) as client:
        before = _peak_kib()
        result = await client.fetch(spec)
        after = _peak_kib()
    error = result.error
    sys.stdout.write(
        json.dumps(
            {
                "kind": None if error is None else error.kind.value,
                "message": None if error is None else error.message,
                "growth_mib": (after - before) / 1024,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    anyio.run(_main, sys.argv[1], sys.argv[2])
