"""A redis-py connection to a distant Redis: each round trip takes ``LAG`` s longer."""

from __future__ import annotations

from collections.abc import Iterable

import anyio
from redis.asyncio.connection import Connection

LAG = 0.04  # seconds per round trip: one connection serves 25 a second, as under heavy load


class LaggingConnection(Connection):
    """Waits ``LAG`` before each send (one per command or pipeline) to a real server."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        """See ``Connection.send_packed_command``."""
        await anyio.sleep(LAG)
        await super().send_packed_command(command, check_health)
