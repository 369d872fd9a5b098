"""The evaluated dashboard as one HTML page, and its screenshot by headless Chromium.

The page inlines uPlot (``node_modules``, from ``npm install`` in this directory),
``page.css`` and ``page.js`` and the data; Inter is loaded from ``node_modules``.
Chromium (Debian's) is run headless, sandbox and every background service off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from otel.render.panels import GRID_ROWS_PX, Evaluated

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
UPLOT = MODULES / "uplot" / "dist"
WIDTH = 1600  # px; Grafana's grid takes the page's width, less 16 px each side
TOPBAR = 41 + 16  # px: the bar and the grid's top margin


class PageError(RuntimeError):
    """The page cannot be built or shot (a missing npm install or browser)."""


def html(evaluated: Evaluated, note: str) -> str:
    """The whole page, ready to load from a file."""
    if not (UPLOT / "uPlot.iife.min.js").exists():
        raise PageError(f"uPlot missing: run `npm ci` in {HERE}")
    css = (HERE / "page.css").read_text().replace("node_modules/", MODULES.as_uri() + "/")
    data = json.dumps(evaluated.to_json()).replace("</", "<\\/")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{evaluated.title}</title>
<style>{(UPLOT / "uPlot.min.css").read_text()}</style>
<style>{css}</style>
</head><body>
<div class="topbar"><span class="crumb">Dashboards /</span><span id="title"></span>
<span class="spacer"></span><span class="note">{note}</span>
<span class="picker" id="range"></span></div>
<div id="grid"></div>
<script>{(UPLOT / "uPlot.iife.min.js").read_text()}</script>
<script>window.DASHBOARD = {data};</script>
<script>{(HERE / "page.js").read_text()}</script>
</body></html>
"""


def height(evaluated: Evaluated) -> int:
    """The page's height in px: the bar, then the grid down to its lowest panel."""
    rows = max(p.grid["y"] + p.grid["h"] for p in evaluated.panels)
    return TOPBAR + rows * GRID_ROWS_PX + 16


def screenshot(page: Path, out: Path, size: tuple[int, int]) -> None:
    """``page`` shot at ``size`` (width, height) into the PNG ``out``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise PageError("chromium not found (Debian package chromium)")
    profile = page.parent / "chromium-profile"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        "--virtual-time-budget=5000",  # fonts and drawing done before the shot
        f"--screenshot={out}",
        page.as_uri(),
    ]
    env = {**os.environ, "TZ": "UTC"}
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    if done.returncode != 0 or not out.exists():
        raise PageError(f"chromium failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
