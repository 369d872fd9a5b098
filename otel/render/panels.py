"""Every panel of the Grafana dashboard evaluated by Prometheus's range API, as Grafana asks.

Each target's ``expr`` goes to ``/api/v1/query_range`` over one time range and step;
each returned series is named by the target's ``legendFormat`` (``{{label}}``
replaced, as Grafana does) and laid on the common time axis (``NaN`` and missing
steps become gaps). A panel is drawable when its type is one the page draws and its
queries returned series; the picture also wants a finite value in each.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[1] / "grafana" / "dashboards" / "mcp-discoveryd.json"
DRAWN_TYPES = frozenset({"timeseries", "stat"})  # what page.js draws; others fail
GRID_ROWS_PX = 30 + 8  # one grid row and the gap under it (Grafana's layout)


@dataclass(frozen=True)
class Series:
    """One named series on the common time axis (None: no value at that step)."""

    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Panel:
    """A panel as the page draws it: layout, title, type, unit and evaluated series."""

    id: int
    title: str
    type: str
    grid: dict[str, int]
    unit: str
    series: tuple[Series, ...]
    defaults: dict[str, Any] = field(default_factory=dict)  # fieldConfig.defaults

    @property
    def drawable(self) -> bool:
        """A type the page draws, and series that Prometheus answered its queries with."""
        return self.type in DRAWN_TYPES and bool(self.series)

    @property
    def has_values(self) -> bool:
        """At least one finite value (a ratio of rates that never moved is all NaN)."""
        return any(v is not None for s in self.series for v in s.values)


@dataclass(frozen=True)
class Evaluated:
    """The dashboard over one time range: the axis (unix seconds) and every panel."""

    title: str
    times: tuple[float, ...]
    panels: tuple[Panel, ...]

    def undrawable(self) -> list[str]:
        """Titles of the panels the page cannot draw, or has no series for."""
        return [p.title for p in self.panels if not p.drawable]

    def without_values(self) -> list[str]:
        """Titles of the panels the picture would show as "No data"."""
        return [p.title for p in self.panels if not p.has_values]

    def to_json(self) -> dict[str, Any]:
        """What page.js reads."""
        return {
            "title": self.title,
            "times": list(self.times),
            "panels": [
                {
                    "id": p.id,
                    "title": p.title,
                    "type": p.type,
                    "grid": p.grid,
                    "unit": p.unit,
                    "defaults": p.defaults,
                    "series": [{"name": s.name, "values": list(s.values)} for s in p.series],
                }
                for p in self.panels
            ],
        }


def legend(fmt: str | None, labels: dict[str, str]) -> str:
    """Grafana's legend: ``{{label}}`` replaced; without a format, the series' selector."""
    if not fmt:
        name = labels.get("__name__", "")
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        return f"{name}{{{inner}}}"
    return re.sub(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", lambda m: labels.get(m[1], ""), fmt)


def query_range(url: str, expr: str, start: float, end: float, step: float) -> list[Any]:
    """The matrix Prometheus returns for ``expr`` (raises on a PromQL error)."""
    params = urllib.parse.urlencode(
        {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    )
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as reply:
        body = json.load(reply)
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {expr}: {body}")
    result: list[Any] = body["data"]["result"]
    return result


def _value(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def evaluate(
    url: str, start: float, end: float, step: float, dashboard: Path = DASHBOARD
) -> Evaluated:
    """Every panel's targets over [start, end] at ``step`` seconds."""
    doc = json.loads(dashboard.read_text())
    count = int((end - start) // step) + 1
    times = tuple(start + i * step for i in range(count))
    panels: list[Panel] = []
    for raw in doc["panels"]:
        series: list[Series] = []
        for target in raw.get("targets", []):
            for row in query_range(url, target["expr"], start, end, step):
                values: list[float | None] = [None] * count
                for stamp, text in row["values"]:
                    index = round((float(stamp) - start) / step)
                    if 0 <= index < count:
                        values[index] = _value(text)
                name = legend(target.get("legendFormat"), row["metric"])
                series.append(Series(name, tuple(values)))
        series.sort(key=lambda s: s.name)
        defaults = raw.get("fieldConfig", {}).get("defaults", {})
        panels.append(
            Panel(
                id=raw["id"],
                title=raw["title"],
                type=raw["type"],
                grid={k: int(raw["gridPos"][k]) for k in ("x", "y", "w", "h")},
                unit=defaults.get("unit", "short"),
                series=tuple(series),
                defaults=defaults,
            )
        )
    return Evaluated(doc["title"], times, tuple(panels))
