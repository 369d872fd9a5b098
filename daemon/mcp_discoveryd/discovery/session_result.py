"""What one upstream session hands back: its handshake's facts, and the result built from them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import CacheHint, Catalog, JSONObject, UpstreamError, UpstreamResult

if TYPE_CHECKING:  # the SDK is imported once a session needs it (upstream.py)
    from mcp import Client

    from .listing import PhaseClock


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a session learned in its handshake, as JSON in MCP wire shape."""

    protocol_version: str | None = None
    server_info: JSONObject | None = None
    capabilities: JSONObject | None = None

    @classmethod
    def of(cls, client: Client) -> SessionInfo:
        """Read from a connected client."""
        server_info: JSONObject | None = None
        if client.server_info is not None:
            server_info = client.server_info.model_dump(
                by_alias=True, exclude_none=True, mode="json"
            )
        capabilities = client.server_capabilities.model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        return cls(client.protocol_version, server_info, capabilities)


def session_result(
    catalog: Catalog | None,
    error: UpstreamError | None,
    hint: CacheHint,
    clock: PhaseClock,
    started: float,
    info: SessionInfo,
) -> UpstreamResult:
    """The session's result so far: its catalog or its error, with every step's duration."""
    durations = {**clock.durations, "total": time.monotonic() - started}
    return UpstreamResult(
        catalog,
        error,
        protocol_version=info.protocol_version,
        server_info=info.server_info,
        capabilities=info.capabilities,
        durations=durations,
        cache_hint=hint,
    )
