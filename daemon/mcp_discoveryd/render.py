"""Text for people: the outcome table, the offerings of a server, the progress line.

Pure formatting (the progress line writes to the stream it is given): ``cli.py``
decides what is printed where.
"""

from __future__ import annotations

from typing import TextIO

from .models import DiscoveryReport, JSONObject, ServerOutcome

DESCRIPTION_CHARS = 100  # one line of a tool's description in the --server listing


class Progress:
    """A live progress line on a terminal while servers are still running."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0
        self.failed = 0

    def advance(self, outcome: ServerOutcome) -> None:
        self.done += 1
        self.failed += 0 if outcome.ok else 1
        self.show()

    def show(self) -> None:
        running = self.total - self.done
        line = f"discovering: {self.done}/{self.total} done, {running} running"
        if self.failed:
            line += f", {self.failed} failed"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[2K")
        self.stream.flush()


def render_table(report: DiscoveryReport) -> str:
    """A readable table of outcomes and a summary line."""
    multi = len({o.gateway_id for o in report.outcomes}) > 1
    header = ["SERVER", "STATUS", "SOURCE", "TOOLS", "PROMPTS", "RES", "BLOCKED", "TIME"]
    header += ["QUEUED", "NOTE"]
    rows = [header]
    for o in report.outcomes:
        name = f"{o.gateway_id}/{o.server_name}" if multi else o.server_name
        rows.append(
            [
                name,
                o.status,
                "-" if o.status == "blocked" else f"{o.source} (stale)" if o.stale else o.source,
                str(len(o.catalog.tools)),
                str(len(o.catalog.prompts)),
                str(len(o.catalog.resources) + len(o.catalog.resource_templates)),
                str(len(o.blocked_tools)),
                f"{o.duration_s:.2f}s",
                f"{o.queued_s:.2f}s",
                _note(o),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    ok = sum(1 for o in report.outcomes if o.ok)
    lines.append("")
    lines.append(
        f"status: {report.status} ({ok}/{len(report.outcomes)} servers ok) "
        f"in {report.duration_s:.2f}s"
    )
    return "\n".join(line.rstrip() for line in lines)


def render_offerings(report: DiscoveryReport) -> str:
    """What each server of the report offers: names with one line of description each."""
    multi = len(report.outcomes) > 1
    lines: list[str] = []
    for o in report.outcomes:
        prefix = f"{o.gateway_id}/{o.server_name} " if multi else ""
        sections = (
            ("tools", o.catalog.tools, "name"),
            ("prompts", o.catalog.prompts, "name"),
            ("resources", o.catalog.resources, "uri"),
            ("resource templates", o.catalog.resource_templates, "uriTemplate"),
        )
        for title, items, key in sections:
            lines.append("")
            lines.append(f"{prefix}{title} ({len(items)}):")
            rows = [(one_line(item.get(key)), one_line(_described(item))) for item in items]
            width = max((len(name) for name, _ in rows), default=0)
            lines.extend(f"  {name.ljust(width)}  {text}".rstrip() for name, text in rows)
    return "\n".join(lines)


def _described(item: JSONObject) -> object:
    """A description, or for a resource without one its name."""
    return item.get("description") or (item.get("name") if "uri" in item else None)


def one_line(value: object) -> str:
    """The first line of an upstream-supplied string, printable and cut to one line."""
    if not isinstance(value, str):
        return ""
    first = next((line.strip() for line in value.splitlines() if line.strip()), "")
    shown = "".join(c if c.isprintable() else "?" for c in first)
    return shown if len(shown) <= DESCRIPTION_CHARS else shown[: DESCRIPTION_CHARS - 3] + "..."


def _note(o: ServerOutcome) -> str:
    if o.status == "blocked":
        return "blocked: " + "; ".join(o.violations)
    if o.error is not None:
        return f"{o.error.kind.value}: {o.error.message}"
    if o.blocked_tools:
        return "; ".join(f"{b.name}: {', '.join(b.reasons)}" for b in o.blocked_tools)
    return ""
