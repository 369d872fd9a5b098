// Draws the evaluated dashboard (window.DASHBOARD, from panels.py) the way Grafana's dark
// theme lays it out: the 24-column grid (row 30 px, gap 8 px), panel chrome, time series
// with uPlot (Grafana's own chart library) and stat tiles; units formatted as Grafana's.
"use strict";

const GRID = { cols: 24, row: 30, gap: 8 };
const TEXT = "rgb(204, 204, 220)";
const MUTED = "rgba(204, 204, 220, 0.65)";
const LINES = "rgba(204, 204, 220, 0.12)";
const FONT = "12px Inter, Helvetica, Arial, sans-serif";
// Grafana's "palette-classic", in its order
const PALETTE = [
  "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A6", "#705DA0",
  "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
];
// Grafana's dark-theme named colours, and its default thresholds (base green, red from 80)
const NAMED = {
  green: "#73BF69",
  red: "#F2495C",
  yellow: "#FADE2A",
  orange: "#FF9830",
  blue: "#5794F2",
  purple: "#B877D9",
  text: TEXT,
};
const THRESHOLDS = { mode: "absolute", steps: [{ color: "green", value: null }, { color: "red", value: 80 }] };

function fixed(value, decimals) {
  return value.toFixed(Math.max(0, Math.min(decimals, 20)));
}

function autoDecimals(value) {
  const size = Math.abs(value);
  if (size === 0 || size >= 100) return 0;
  if (size >= 10) return 1;
  return Math.min(3, 2 - Math.floor(Math.log10(size)));
}

function trim(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

function scaled(value, decimals, steps, base) {
  let i = 0;
  let v = value;
  while (Math.abs(v) >= base && i < steps.length - 1) {
    v /= base;
    i += 1;
  }
  const d = decimals ?? autoDecimals(v);
  return trim(fixed(v, d)) + steps[i];
}

function seconds(value, decimals) {
  const size = Math.abs(value);
  const pick = (v, suffix) => trim(fixed(v, decimals ?? autoDecimals(v))) + suffix;
  if (size === 0) return "0 s";
  if (size < 1e-6) return pick(value * 1e9, " ns");
  if (size < 1e-3) return pick(value * 1e6, " µs");
  if (size < 1) return pick(value * 1e3, " ms");
  if (size < 60) return pick(value, " s");
  if (size < 3600) return pick(value / 60, " min");
  return pick(value / 3600, " hour");
}

// Grafana's value formats for the units this dashboard uses
function format(unit, value, decimals) {
  if (value === null || value === undefined) return "No data";
  switch (unit) {
    case "percentunit":
      return trim(fixed(value * 100, decimals ?? autoDecimals(value * 100))) + "%";
    case "s":
      return seconds(value, decimals);
    case "bytes":
      return scaled(value, decimals, [" B", " KiB", " MiB", " GiB", " TiB"], 1024);
    case "ops":
      return scaled(value, decimals, [" ops/s", " K ops/s", " M ops/s"], 1000);
    case "reqps":
      return scaled(value, decimals, [" req/s", " K req/s", " M req/s"], 1000);
    case "short":
      return scaled(value, decimals, ["", " K", " Mil", " Bil"], 1000);
    default:
      return trim(fixed(value, decimals ?? autoDecimals(value)));
  }
}

// the fewest decimals that keep every tick's label distinct (after the unit's scaling)
function tickLabels(unit, ticks) {
  let labels = ticks.map((t) => format(unit, t, 0));
  for (let d = 1; d <= 4 && new Set(labels).size < labels.length; d += 1) {
    labels = ticks.map((t) => format(unit, t, d));
  }
  return labels;
}

const measure = document.createElement("canvas").getContext("2d");

function labelWidth(labels) {
  measure.font = FONT;
  return Math.ceil(Math.max(24, ...(labels ?? []).map((l) => measure.measureText(l).width)));
}

function colour(name) {
  return NAMED[name] ?? name;
}

// the colour of the last threshold step at or below the value (absolute mode)
function thresholdColour(defaults, value) {
  const steps = (defaults.thresholds ?? THRESHOLDS).steps;
  let chosen = steps[0].color;
  for (const step of steps) {
    if (step.value === null || (value !== null && value >= step.value)) chosen = step.color;
  }
  return colour(chosen);
}

// value mappings of type "value": the mapped text, else the formatted number
function display(panel, value) {
  for (const mapping of panel.defaults.mappings ?? []) {
    const hit = mapping.type === "value" && value !== null ? mapping.options[String(value)] : null;
    if (hit && hit.text !== undefined) return hit.text;
  }
  return format(panel.unit, value);
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function clock(unix, withSeconds) {
  const d = new Date(unix * 1000);
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return withSeconds ? `${hm}:${pad(d.getUTCSeconds())}` : hm;
}

function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function box(grid, width) {
  const col = (width - (GRID.cols - 1) * GRID.gap) / GRID.cols;
  return {
    left: grid.x * (col + GRID.gap),
    top: grid.y * (GRID.row + GRID.gap),
    width: grid.w * col + (grid.w - 1) * GRID.gap,
    height: grid.h * GRID.row + (grid.h - 1) * GRID.gap,
  };
}

function noData(body) {
  element("div", "nodata", body, "No data");
}

function legendOf(body, series) {
  const legend = element("div", "legend", body);
  series.forEach((s, i) => {
    const item = element("div", "legend-item", legend);
    element("span", "legend-mark", item).style.background = PALETTE[i % PALETTE.length];
    element("span", "", item, s.name);
  });
  return legend;
}

function timeseries(body, panel, times, size) {
  const legend = legendOf(body, panel.series);
  const height = size.height - legend.offsetHeight - 4;
  const span = times[times.length - 1] - times[0];
  const axis = {
    stroke: MUTED,
    font: FONT,
    grid: { stroke: LINES, width: 1 },
    ticks: { show: false },
  };
  const options = {
    width: size.width,
    height,
    legend: { show: false },
    cursor: { show: false },
    select: { show: false },
    scales: { x: { time: true }, y: { range: (u, lo, hi) => yRange(lo, hi) } },
    axes: [
      { ...axis, space: 60, values: (u, ticks) => ticks.map((t) => clock(t, span < 180)) },
      {
        ...axis,
        size: (u, labels) => labelWidth(labels) + 14, // as wide as its longest label
        values: (u, ticks) => tickLabels(panel.unit, ticks),
      },
    ],
    series: [
      {},
      ...panel.series.map((s, i) => ({
        label: s.name,
        stroke: PALETTE[i % PALETTE.length],
        width: 1,
        points: { show: false },
        spanGaps: false,
      })),
    ],
  };
  const data = [times, ...panel.series.map((s) => s.values)];
  body.insertBefore(element("div", "chart"), legend);
  new uPlot(options, data, body.querySelector(".chart"));
}

// uPlot's own range, except all-zero data: 0 to 1 as Grafana shows it (uPlot picks 0 to 100)
function yRange(lo, hi) {
  return lo === 0 && hi === 0 ? [0, 1] : uPlot.rangeNum(lo, hi, 0.1, true);
}

function lastNotNull(values) {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    if (values[i] !== null) return values[i];
  }
  return null;
}

// Grafana's stat defaults: the last non-null value (mapped, formatted), coloured by the
// thresholds, over an area sparkline in that colour; several series side by side, named.
function stat(body, panel, times, size) {
  const row = element("div", "stat-row", body);
  const width = size.width / panel.series.length - GRID.gap;
  panel.series.forEach((s) => {
    const last = lastNotNull(s.values);
    const tint = thresholdColour(panel.defaults, last);
    const tile = element("div", "stat-tile", row);
    tile.style.width = `${width}px`;
    element("div", "stat-name", tile, s.name);
    element("div", "stat-value", tile, display(panel, last)).style.color = tint;
    const spark = element("div", "stat-spark", tile);
    const options = {
      width,
      height: Math.max(24, size.height * 0.3),
      legend: { show: false },
      cursor: { show: false },
      select: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: (u, lo, hi) => [Math.min(0, lo), hi + 0.1] } },
      series: [{}, { stroke: tint, fill: `${tint}26`, width: 1 }], // 26: 15 % opacity
    };
    new uPlot(options, [times, s.values], spark);
  });
}

const DRAW = { timeseries, stat };

function render() {
  const dashboard = window.DASHBOARD;
  const root = document.getElementById("grid");
  const width = root.clientWidth;
  const { times } = dashboard;
  document.getElementById("title").textContent = dashboard.title;
  document.getElementById("range").textContent =
    `${clock(times[0], true)} to ${clock(times[times.length - 1], true)} UTC`;
  let bottom = 0;
  for (const panel of dashboard.panels) {
    const at = box(panel.grid, width);
    bottom = Math.max(bottom, at.top + at.height);
    const node = element("div", "panel", root);
    Object.assign(node.style, {
      left: `${at.left}px`,
      top: `${at.top}px`,
      width: `${at.width}px`,
      height: `${at.height}px`,
    });
    element("div", "panel-title", node, panel.title);
    const body = element("div", "panel-body", node);
    const size = { width: body.clientWidth, height: body.clientHeight };
    const draw = DRAW[panel.type];
    const drawable = panel.series.some((s) => s.values.some((v) => v !== null));
    if (draw && drawable) draw(body, panel, times, size);
    else noData(body);
  }
  root.style.height = `${bottom}px`;
}

render();
