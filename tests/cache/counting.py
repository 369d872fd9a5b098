"""A redis-py connection that counts round trips (one packed send per command or pipeline)."""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio.connection import Connection


class CountingConnection(Connection):
    """Counts every send; read ``CountingConnection.sends`` before and after an operation."""

    sends = 0

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        type(self).sends += 1
        await super().send_packed_command(command, check_health)
