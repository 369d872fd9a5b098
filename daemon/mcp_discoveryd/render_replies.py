"""Text for people from a running daemon's JSON answers (``status``, ``discover``, ``catalog``).

Pure formatting over the control socket's answers: nothing here talks to the daemon.
Every value comes from the daemon, and upstream-supplied text (descriptions, error
messages) is cut to one printable line before it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from .models import JSONObject
from .render import one_line


def render_status(status: JSONObject, now: float | None = None) -> str:
    """The daemon's head line, then one row per server: state, freshness, next refresh."""
    now = time.time() if now is None else now
    head = _obj(status.get("daemon"))
    backend = _obj(head.get("backend"))
    lines = [
        f"mcp-discoveryd {head.get('version', '?')}: {head.get('state', '?')}, "
        f"up {_span(_num(head.get('uptime_s')))}, config {head.get('config') or '-'}, "
        f"cache {backend.get('name', '?')} {backend.get('health', '?')}"
        + (f" ({backend['reason']})" if backend.get("reason") else "")
    ]
    pool = _obj(_obj(_obj(status.get("cache_status")).get("global")).get("pool"))
    if pool:  # the gate in front of Redis's pool: load shows here before it fails anything
        lines.append(
            f"{backend.get('name', 'redis')} pool: {pool.get('in_use', 0)}/{pool.get('size', 0)} "
            f"in use, {pool.get('waiting', 0)} waiting (peak {pool.get('waiting_peak', 0)}); "
            f"{pool.get('queued', 0)} queued, {pool.get('exhausted', 0)} found it exhausted, "
            f"{pool.get('gave_up', 0)} gave up after busy_wait"
        )
    if head.get("reload_error"):
        lines.append(f"last reload FAILED (still on the previous config): {head['reload_error']}")
    header = ["GATEWAY", "SERVER", "STATE", "ENTRY", "TOOLS", "FETCHED", "NEXT REFRESH", "NOTE"]
    rows = [header]
    for server in _objs(status.get("servers")):
        rows.append(
            [
                str(server.get("gateway", "")),
                str(server.get("server", "")),
                str(server.get("state", "")),
                str(server.get("entry", "")),
                str(server.get("tool_count", 0)),
                _until(server.get("fetched_at"), now),
                _in(server.get("next_run_in_s")),
                _note(server),
            ]
        )
    lines.append("")
    lines.extend(_table(rows))
    if tokens := _objs(head.get("oauth")):  # upstream OAuth: whether held and until when
        oauth = [["GATEWAY", "SERVER", "CLIENT", "TOKEN", "EXPIRES", "LAST ERROR"]]
        for row in tokens:
            oauth.append(
                [
                    str(row.get("gateway", "")),
                    str(row.get("server", "")),
                    str(row.get("client_id", "")),
                    "held" if row.get("token_held") else "none",
                    _until(row.get("expires_at"), now),
                    one_line(str(row.get("last_error") or "")) or "-",
                ]
            )
        lines.append("")
        lines.extend(_table(oauth))
    return "\n".join(lines)


def _until(iso: object, now: float) -> str:
    """When an ISO time comes: "in 4m10s", or how long ago it passed."""
    if not isinstance(iso, str):
        return "-"
    try:
        then = datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return "-"
    return f"in {_span(then - now)}" if then >= now else f"{_span(now - then)} ago"


def render_discovered(reply: JSONObject) -> str:
    """A discover answer (one server's, or the all-servers report) as a table."""
    servers = _obj(reply.get("available_servers"))
    if not servers and "server_name" in reply:  # the one-server shape
        servers = {str(reply["server_name"]): reply}
    rows = [["SERVER", "STATUS", "SOURCE", "TOOLS", "BLOCKED", "TIME", "NOTE"]]
    for name, raw in servers.items():
        server = _obj(raw)
        error = _obj(server.get("error"))
        note = one_line(error.get("message")) if error else ""
        if server.get("blocked"):
            note = "blocked: " + "; ".join(str(v) for v in _list(server.get("violations")))
        source = str(server.get("source", ""))
        rows.append(
            [
                name,
                str(server.get("status", "")),
                "-"
                if server.get("blocked")
                else f"{source} (stale)"
                if server.get("stale")
                else source,
                str(len(_list(server.get("tools")))),
                str(server.get("blocked_count", 0)),
                f"{_num(server.get('duration_s')):.2f}s",
                note,
            ]
        )
    lines = _table(rows)
    if "message" in reply:
        lines += ["", f"{reply.get('status', '')}: {one_line(reply.get('message'))}"]
    return "\n".join(lines)


def render_catalog(catalog: JSONObject) -> str:
    """A cached catalog: freshness, then tools, prompts, resources with one line each."""
    head = (
        f"{catalog.get('gateway')}/{catalog.get('server')}: {catalog.get('freshness')} "
        f"(source {catalog.get('source')}, fetched {catalog.get('fetched_at')}, "
        f"expires {catalog.get('expires_at')})"
    )
    lines = [head]
    sections = (
        ("tools", "tools", "name"),
        ("prompts", "prompts", "name"),
        ("resources", "resources", "uri"),
        ("resource templates", "resource_templates", "uriTemplate"),
        ("blocked tools", "blocked_tools", "name"),
    )
    for title, field, key in sections:
        items = _objs(catalog.get(field))
        lines += ["", f"{title} ({len(items)}):"]
        described = [(one_line(i.get(key)), _described(i)) for i in items]
        width = max((len(name) for name, _ in described), default=0)
        lines += [f"  {name.ljust(width)}  {text}".rstrip() for name, text in described]
    return "\n".join(lines)


def _described(item: JSONObject) -> str:
    reasons = _list(item.get("reasons"))
    if reasons:  # a blocked tool: why
        return one_line("; ".join(str(r) for r in reasons))
    return one_line(item.get("description") or (item.get("name") if "uri" in item else None))


def _note(server: JSONObject) -> str:
    error = _obj(server.get("last_error"))
    if error:
        return f"{error.get('kind', 'error')}: {one_line(error.get('message'))}"
    changes = _list(server.get("tool_changes"))
    if changes:
        return f"{len(changes)} tool change(s) pending (mcp-discoveryd accept)"
    return one_line(server.get("note"))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is left ragged."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]).rstrip()
        for r in rows
    ]


def _in(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return f"in {_span(seconds)}" if seconds >= 0 else f"overdue {_span(-seconds)}"


def _span(seconds: float) -> str:
    """A duration as a person reads it: 42s, 3m12s, 5h04m, 2d03h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _obj(value: object) -> JSONObject:
    return value if isinstance(value, dict) else {}


def _objs(value: object) -> list[JSONObject]:
    return [v for v in _list(value) if isinstance(v, dict)]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
