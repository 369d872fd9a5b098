"""Discovery reports as JSON: the Enkrypt all-servers shape, extended.

Each entry of ``available_servers`` carries what Secure MCP Gateway's
``discover_all_tools`` returns (``status``, ``tools``, ``source``) plus
``prompts``, ``resources``, ``resource_templates``, ``blocked_tools``,
``blocked_count``, ``blocked_reasons``, ``error``, ``duration_s``, ``queued_s``
(the part of ``duration_s`` a stdio server waited for spawn admission) and
``stale`` (true when an expired cached catalog is served because its refresh
failed; ``error`` then says why) and ``tool_changes`` (tools new, changed or
removed since their definitions were accepted; pending until accepted). Keys are server names when the run covers one
gateway, ``"gateway/server"`` otherwise.
"""

from __future__ import annotations

from .discovery.guardrails import blocked_reasons, tooldiff
from .models import DiscoveryReport, JSONObject, ServerOutcome


def outcome_key(outcome: ServerOutcome, multi_gateway: bool) -> str:
    """The name a server goes by in a report."""
    if multi_gateway:
        return f"{outcome.gateway_id}/{outcome.server_name}"
    return outcome.server_name


def server_json(outcome: ServerOutcome) -> JSONObject:
    """One server's entry of ``available_servers``."""
    cat = outcome.catalog
    entry: JSONObject = {
        "status": "success" if outcome.ok else "error",
        "gateway_id": outcome.gateway_id,
        "source": outcome.source,
        "tools": list(cat.tools),
        "prompts": list(cat.prompts),
        "resources": list(cat.resources),
        "resource_templates": list(cat.resource_templates),
        "blocked_tools": [b.to_json() for b in outcome.blocked_tools],
        "blocked_count": len(outcome.blocked_tools),
        "blocked_reasons": blocked_reasons(outcome.blocked_tools),
        "tool_warnings": [w.to_json() for w in outcome.tool_warnings],
        "error": outcome.error.to_json() if outcome.error else None,
        "duration_s": round(outcome.duration_s, 4),
        "queued_s": round(outcome.queued_s, 4),
        "stale": outcome.stale,
        "tool_changes": [tooldiff.change_json(c) for c in outcome.tool_changes],
    }
    if outcome.protocol_version:
        entry["protocol_version"] = outcome.protocol_version
    if outcome.server_info:
        entry["server_info"] = outcome.server_info
    if outcome.status == "blocked":
        entry["blocked"] = True
        entry["violations"] = list(outcome.violations)
    return entry


def report_json(report: DiscoveryReport) -> JSONObject:
    """The whole run: top-level status is "success" only when every server succeeded."""
    multi = len({o.gateway_id for o in report.outcomes}) > 1
    succeeded = [outcome_key(o, multi) for o in report.outcomes if o.ok]
    failed = [outcome_key(o, multi) for o in report.outcomes if not o.ok]
    blocked = [
        {
            "server_name": outcome_key(o, multi),
            "blocked": True,
            "violations": list(o.violations),
        }
        for o in report.outcomes
        if o.status == "blocked"
    ]
    total = len(report.outcomes)
    return {
        "status": report.status,
        "message": f"Discovered {len(succeeded)} of {total} servers"
        + (f"; {len(failed)} failed" if failed else ""),
        "discovery_success_servers": succeeded,
        "discovery_failed_servers": failed,
        "available_servers": {outcome_key(o, multi): server_json(o) for o in report.outcomes},
        "blocked_servers": blocked,
        "duration_s": round(report.duration_s, 4),
    }
