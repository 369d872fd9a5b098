"""Guardrails: which servers may be contacted and which of their tools may be served.

Server checks (``check_server``) run before any connection; tool checks
(``check_tools``) run on every listed or configured tool. Both are pure and
synchronous. Discovery calls them through ``Guardrails`` (``provider``), the seam
that adds an external guardrail service when one is configured (``http_provider``:
[guardrails.provider], its shapes in ``wire``). Matching is on
folded text (``normalise``), so invisible and look-alike characters change nothing.
"""

from __future__ import annotations

from .poisoning import DEFAULT_LIMITS, Finding, Limits, scan_fields, scan_text
from .provider import (
    GuardrailProvider,
    Guardrails,
    ProviderSettings,
    guarded_check_server,
    guarded_check_tools,
)
from .servers import check_server
from .tools import ToolVerdict, blocked_reasons, check_tools

__all__ = [
    "DEFAULT_LIMITS",
    "Finding",
    "GuardrailProvider",
    "Guardrails",
    "Limits",
    "ProviderSettings",
    "ToolVerdict",
    "blocked_reasons",
    "check_server",
    "check_tools",
    "guarded_check_server",
    "guarded_check_tools",
    "scan_fields",
    "scan_text",
]
