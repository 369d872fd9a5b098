"""otel/render: its query evaluation covers every panel of the dashboard, so the picture's
tool cannot rot unnoticed (a panel of a type it cannot draw, or that no query answers, fails)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from otel.render.page import HERE
from otel.render.panels import (
    DASHBOARD,
    DRAWN_TYPES,
    Evaluated,
    Panel,
    Series,
    evaluate,
    legend,
)
from tests.conftest import require_binary
from tests.telemetry.daemon_run import run_daemon
from tests.telemetry.prometheus import prometheus_over
from tests.telemetry.receiver import HttpReceiver

GRID = {"x": 0, "y": 0, "w": 8, "h": 8}


@pytest.mark.slow
@pytest.mark.prometheus
async def test_every_panel_is_evaluated_over_a_range_and_has_something_to_draw(
    tmp_path: Path,
) -> None:
    binary = require_binary("prometheus", "prometheus (Debian package)")
    promtool = require_binary("promtool", "promtool (Debian prometheus package)")
    with HttpReceiver().running() as rx:
        await run_daemon(tmp_path, rx.url)
    points = rx.received.points()
    start = min(p.time_ns for p in points) / 1e9
    with prometheus_over(points, tmp_path / "prom", binary, promtool) as prom:
        evaluated = evaluate(prom.url, start, prom.at, 0.25)
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert [p.title for p in evaluated.panels] == [p["title"] for p in panels]
    assert evaluated.undrawable() == []
    upstream = next(p for p in evaluated.panels if p.title == "Upstream up")
    assert {s.name for s in upstream.series} >= {"g/local", "g/flaky"}  # legendFormat applied


def _evaluated(*panels: Panel) -> Evaluated:
    return Evaluated("d", (0.0, 1.0), panels)


def test_a_panel_type_the_page_does_not_draw_or_without_series_is_undrawable() -> None:
    drawn = Panel(1, "drawn", "timeseries", GRID, "s", (Series("a", (None, 1.0)),))
    unknown = Panel(2, "pie", "piechart", GRID, "s", (Series("a", (1.0, 1.0)),))
    gaps = Panel(3, "gaps", "stat", GRID, "none", (Series("a", (None, None)),))
    empty = Panel(4, "empty", "timeseries", GRID, "s", ())
    evaluated = _evaluated(drawn, unknown, gaps, empty)
    assert evaluated.undrawable() == ["pie", "empty"]
    assert evaluated.without_values() == ["gaps", "empty"]  # the picture's "No data"


def test_the_page_draws_exactly_the_panel_types_the_evaluation_accepts() -> None:
    script = (HERE / "page.js").read_text()
    drawn = re.search(r"const DRAW = \{([^}]*)\}", script)
    assert drawn is not None
    assert {name.strip() for name in drawn[1].split(",")} == DRAWN_TYPES


label = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(label, st.text(max_size=8), min_size=1), st.text(max_size=8))
def test_legend_puts_each_label_value_where_the_format_names_it(
    labels: dict[str, str], between: str
) -> None:
    fmt = between.join(f"{{{{{k}}}}}" for k in labels)
    assert legend(fmt, labels) == between.join(labels.values())
