"""``python -m otel.render``: run the workload, scrape it into Prometheus, draw the dashboard.

From the repository's root, after ``npm ci`` in ``otel/render``::

    PYTHONPATH=daemon .venv/bin/python -m otel.render --minutes 5 --out otel/dashboard.png

Two daemons run ``workload.py``'s servers for ``--minutes``, exporting OTLP every
second; Prometheus scrapes what they exported every second (``scrape.py``); each panel
of ``otel/grafana/dashboards/mcp-discoveryd.json`` is evaluated over the run with
``query_range`` (``panels.py``) and drawn with uPlot, then shot by Chromium
(``page.py``). Prints a JSON summary; exits 1 when a panel has nothing to draw.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from otel.render import page, panels, scrape, workload

NOTE = "drawn by otel/render from the dashboard JSON; Prometheus data from a real daemon run"


def main(argv: list[str] | None = None) -> int:
    """Render the dashboard; the exit status says whether every panel had data."""
    parser = argparse.ArgumentParser(prog="python -m otel.render", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the run")
    parser.add_argument("--step", type=float, default=5.0, help="query_range step, seconds")
    parser.add_argument("--out", type=Path, default=Path("otel/dashboard.png"))
    parser.add_argument("--html", type=Path, help="also keep the page here")
    args = parser.parse_args(argv)
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        sys.stderr.write("prometheus not found (Debian package prometheus)\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="render", dir="/tmp") as tmp:
        workdir = Path(tmp)
        with scrape.pipeline(workdir, prometheus) as (endpoint, url):
            with workload.daemons(workdir, endpoint) as running:
                start = time.time()
                workload.drive(workdir, running, args.minutes * 60)
            time.sleep(2 * scrape.SCRAPE)  # the shutdown flush, scraped
            end = time.time()
            evaluated = panels.evaluate(url, start, end, args.step)
        document = workdir / "dashboard.html"
        document.write_text(page.html(evaluated, NOTE))
        if args.html:
            shutil.copy(document, args.html)
        page.screenshot(document, args.out, (page.WIDTH, page.height(evaluated)))
    empty = evaluated.undrawable() + evaluated.without_values()
    summary = {
        "out": str(args.out),
        "range_s": round(end - start, 1),
        "step_s": args.step,
        "panels": {p.title: len(p.series) for p in evaluated.panels},
        "without_data": empty,
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main())
