"""The README's metric table, generated from ``instruments.INSTRUMENTS``, and Prometheus names.

``python -m mcp_discoveryd.telemetry.catalogue README.md`` rewrites the table between
``BEGIN`` and ``END`` in place; a test fails while the README and the module disagree.
``prometheus_name`` is the name the OpenTelemetry Collector's Prometheus exporter
gives a metric (suffixes on): what the Grafana dashboard queries.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .instruments import INSTRUMENTS, Instrument

BEGIN = "<!-- metrics:begin (generated from telemetry/instruments.py) -->"
END = "<!-- metrics:end -->"

# UCUM -> the Prometheus unit word the collector appends (annotations like {run} are dropped).
_UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def prometheus_name(spec: Instrument) -> str:
    """The metric's name after the collector's OTLP -> Prometheus translation (no _bucket)."""
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", spec.name)
    unit = _UNITS.get(spec.unit, "")
    if spec.unit == "1" and spec.kind == "gauge":
        unit = "ratio"
    if unit and not name.endswith(f"_{unit}"):
        name = f"{name}_{unit}"
    if spec.kind == "counter":
        name = f"{name}_total"
    return name


def prometheus_label(key: str) -> str:
    """An attribute key as a Prometheus label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def table() -> str:
    """The markdown table of every instrument."""
    rows = [
        "| Metric | Kind | Unit | Attributes | Prometheus | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for spec in INSTRUMENTS:
        attrs = ", ".join(f"`{a}`" for a in spec.attributes) or "-"
        rows.append(
            f"| `{spec.name}` | {spec.kind} | `{spec.unit}` | {attrs} "
            f"| `{prometheus_name(spec)}` | {spec.description} |"
        )
    return "\n".join(rows)


def rewrite(text: str) -> str:
    """``text`` with the table between the markers replaced by the current one."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{table()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    """Rewrite the table in the file named by argv[0]."""
    path = Path(argv[0])
    path.write_text(rewrite(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
