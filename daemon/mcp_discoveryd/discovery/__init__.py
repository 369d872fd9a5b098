"""Discovery: the upstream client, the three phases and the guardrails.

Re-exports only. ``UpstreamClient`` is loaded on first use: importing the MCP
SDK takes about a second, and commands that never talk to an upstream should
not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .admission import SpawnStats
    from .upstream import UpstreamClient

__all__ = ["SpawnStats", "UpstreamClient"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import upstream

        return getattr(upstream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
