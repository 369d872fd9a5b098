"""A daemon's part in a lease race, as its own OS process.

    python tests/cache/lease_holder.py REDIS_URL TTL_SECONDS

Opens a Redis-backed cache, prints ``ready``, waits for a line on stdin, asks for
the lease of gw-1/server-a and prints ``granted`` or ``held``. A granted lease is
never released: the process waits for stdin to close (or for its kill), so its
lease ends only when its PX runs out.
"""

from __future__ import annotations

import sys

import anyio
from tests.cache.builders import config, redis_settings

from mcp_discoveryd.cache import coordinator_for, open_cache


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _main(url: str, ttl: float) -> None:
    stdin = anyio.wrap_file(sys.stdin)
    async with open_cache(config(redis_settings(url)), listen=False) as cache:
        _say("ready")
        await stdin.readline()
        lease = await coordinator_for(cache).try_acquire("gw-1", "server-a", ttl)
        _say("granted" if lease is not None else "held")
        await stdin.readline()  # EOF when the test closes our stdin


if __name__ == "__main__":
    anyio.run(_main, sys.argv[1], float(sys.argv[2]))
