// Raymon's one hand-written script. No inline scripts anywhere (the Content-Security-Policy forbids
// them): a page marks elements with data-* attributes and a behaviour below picks them up, on load
// and after every htmx swap. Data for charts comes in <script type="application/json"> elements.
"use strict";

const Raymon = {
  behaviours: [],
  // Register `init(element)` for every element matching `selector`, now and in swapped-in content.
  on(selector, init) { this.behaviours.push([selector, init]); },
  apply(root) {
    for (const [selector, init] of this.behaviours) {
      const found = root.matches && root.matches(selector) ? [root] : [];
      for (const el of [...found, ...root.querySelectorAll(selector)]) {
        if (el.dataset.raymonInit === undefined) { el.dataset.raymonInit = ""; init(el); }
      }
    }
  },
  json(id) { const el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; },
};

// Times: <time datetime="...Z"> is shown in the viewer's time zone, or UTC when the URL says tz=utc.
Raymon.on("time[datetime]", (el) => {
  const utc = new URLSearchParams(location.search).get("tz") === "utc";
  const moment = new Date(el.getAttribute("datetime"));
  if (isNaN(moment)) return;
  el.title = moment.toISOString();
  el.textContent = moment.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZone: utc ? "UTC" : undefined, timeZoneName: "short",
  });
});

document.addEventListener("DOMContentLoaded", () => Raymon.apply(document.body));
document.addEventListener("htmx:load", (event) => Raymon.apply(event.target));

// Page behaviours: each page family appends its section below, under a comment naming it.

// Traces: j/k move a selection through the trace list, Enter opens the selected trace, "/" focuses the filter.
const TraceKeys = {
  rows() { const table = document.querySelector("table[data-trace-list]"); return table ? [...table.tBodies[0].rows] : []; },
  select(rows, index) {
    rows.forEach((row, i) => {
      row.classList.toggle("selected", i === index);
      if (i === index) row.setAttribute("aria-selected", "true"); else row.removeAttribute("aria-selected");
    });
    if (rows[index]) rows[index].scrollIntoView({ block: "nearest" });
  },
};
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const rows = TraceKeys.rows();
  if (event.key === "/") {
    const input = document.querySelector("[data-trace-filter]");
    if (input) { event.preventDefault(); input.focus(); input.select(); }
    return;
  }
  if (!rows.length) return;
  const current = rows.findIndex((row) => row.classList.contains("selected"));
  if (event.key === "j" || event.key === "k") {
    event.preventDefault();
    const next = current < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, current + (event.key === "j" ? 1 : -1)));
    TraceKeys.select(rows, next);
  } else if (event.key === "Enter" && current >= 0 && !target.closest("a, button")) {
    const link = rows[current].querySelector("a.trace-link");
    if (link) { event.preventDefault(); link.click(); }
  }
});
// Traces: the filter input is marked invalid while the swapped-in results show the parser's error.
Raymon.on("#results", (el) => {
  const input = document.querySelector("[data-trace-filter]");
  if (!input) return;
  if (el.querySelector(".filter-error")) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
});

// Dashboards
// A [data-dash-chart] element draws one chart of the page's #dash-data (uPlot): dragging across it
// writes begin/end into the URL (the page reloads with that range), a click on a point opens the
// traces of that point's windows and slice. The table beside each chart has the same numbers.
// A point of several windows is drawn as its headline value (the highest; a score's mean) over a
// light band from the lowest to the highest of its windows (series.band = [lows, highs]).
Raymon.dashPalette = ["#2f6fde", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4", "#bf8b00", "#6f7a8c"];
// Axis and grid colours from the stylesheet's custom properties (dark mode follows the OS).
Raymon.axisColours = () => {
  const style = getComputedStyle(document.documentElement);
  const fg = style.getPropertyValue("--muted").trim() || "#5d6676";
  const grid = style.getPropertyValue("--border").trim() || "#dde1e8";
  return { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } };
};
Raymon.dashIso = (seconds) => new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
// Fill each band's runs of points (where both ends are known) under the lines.
Raymon.dashBands = (chart, x) => (u) => {
  const ctx = u.ctx;
  ctx.save();
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip();
  chart.series.forEach((s, i) => {
    if (!s.band) return;
    const [lo, hi] = s.band;
    ctx.fillStyle = `${Raymon.dashPalette[i % Raymon.dashPalette.length]}2e`;
    let run = [];
    const fill = () => {
      if (run.length > 1) {
        ctx.beginPath();
        run.forEach((j, n) => {
          const px = u.valToPos(x[j], "x", true);
          const py = u.valToPos(hi[j], "y", true);
          if (n === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        });
        for (const j of [...run].reverse()) ctx.lineTo(u.valToPos(x[j], "x", true), u.valToPos(lo[j], "y", true));
        ctx.closePath();
        ctx.fill();
      }
      run = [];
    };
    for (let j = 0; j < x.length; j++) {
      if (lo[j] === null || hi[j] === null) fill(); else run.push(j);
    }
    fill();
  });
  ctx.restore();
};
// The y range takes in the bands too (a band reaches below its line).
Raymon.dashRange = (chart) => (u, min, max) => {
  let lo = min;
  let hi = max;
  for (const s of chart.series) {
    if (!s.band) continue;
    for (const v of s.band[0]) if (v !== null && (lo === null || v < lo)) lo = v;
    for (const v of s.band[1]) if (v !== null && (hi === null || v > hi)) hi = v;
  }
  if (lo === null || hi === null) return [0, 1];
  return uPlot.rangeNum(lo, hi, 0.1, true);
};
Raymon.on("[data-dash-chart]", (el) => {
  const data = Raymon.json("dash-data");
  if (!data || typeof uPlot === "undefined") return;
  const chart = data.charts.find((c) => c.check === el.dataset.dashChart);
  if (!chart) return;
  const series = [{}];
  const values = [data.x];
  chart.series.forEach((s, i) => {
    series.push({ label: s.label, stroke: Raymon.dashPalette[i % Raymon.dashPalette.length], width: 1.5,
      points: { show: data.x.length < 80 } });
    values.push(s.values);
  });
  const limits = [...new Set(chart.series.map((s) => s.threshold).filter((t) => t !== null))];
  if (limits.length === 1) {
    series.push({ label: "threshold", stroke: "#c62f3b", dash: [6, 4], width: 1, points: { show: false } });
    values.push(data.x.map(() => limits[0]));
  }
  let downX = null;
  const zoom = (u) => {
    if (u.select.width < 3) return;
    const lo = u.posToVal(u.select.left, "x");
    const hi = u.posToVal(u.select.left + u.select.width, "x");
    const url = new URL(location.href);
    url.searchParams.set("begin", Raymon.dashIso(Math.floor(lo)));
    url.searchParams.set("end", Raymon.dashIso(Math.ceil(hi)));
    url.searchParams.delete("range");
    location.assign(url.toString());
  };
  const plot = new uPlot({
    width: Math.max(320, el.clientWidth || 640), height: 260, series,
    scales: { x: { time: true, range: () => [data.begin, data.end] }, y: { range: Raymon.dashRange(chart) } },
    axes: [Raymon.axisColours(), Raymon.axisColours()],
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: { setSelect: [zoom], drawAxes: [Raymon.dashBands(chart, data.x)] },
  }, values, el);
  plot.over.addEventListener("mousedown", (event) => { downX = event.clientX; });
  plot.over.addEventListener("click", (event) => {
    const idx = plot.cursor.idx;
    if (idx === null || idx === undefined || (downX !== null && Math.abs(event.clientX - downX) > 3)) return;
    const params = new URLSearchParams();
    if (data.filter) params.set("filter", data.filter);
    params.set("begin", Raymon.dashIso(data.x[idx]));
    params.set("end", Raymon.dashIso(data.ends[idx]));
    location.assign(`${data.traces}?${params.toString()}`);
  });
  el.classList.add("drawn");
});

// Profiles
// A [data-histogram=i] element draws histogram i of #prof-data as bars (uPlot): the reference, and
// the other profile overlaid when there is one. Bin labels come from the data, never from HTML.
Raymon.on("[data-histogram]", (el) => {
  const data = Raymon.json("prof-data");
  if (!data || typeof uPlot === "undefined") return;
  const h = data.histograms[Number(el.dataset.histogram)];
  if (!h) return;
  const names = data.names || ["reference", "other"];
  const x = h.labels.map((_, i) => i);
  const bars = uPlot.paths.bars({ size: [h.other ? 0.45 : 0.8, 60], align: h.other ? -1 : 0 });
  const barsOther = uPlot.paths.bars({ size: [0.45, 60], align: 1 });
  const series = [{ value: (u, v) => (v === null ? "" : h.labels[v] ?? "") },
    { label: names[0], stroke: "#3b6fb6", fill: "rgba(59,111,182,0.55)", paths: bars, points: { show: false } }];
  const values = [x, h.reference];
  if (h.other) {
    series.push({ label: names[1], stroke: "#e07b39", fill: "rgba(224,123,57,0.55)", paths: barsOther, points: { show: false } });
    values.push(h.other);
  }
  const plot = new uPlot({
    width: Math.max(280, el.clientWidth || 480), height: 180, series,
    scales: { x: { time: false, range: [-0.6, x.length - 0.4] } },
    axes: [{ ...Raymon.axisColours(), size: 40,
      values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? (h.labels[i] ?? "") : "")) },
    Raymon.axisColours()],
    cursor: { drag: { x: false, y: false } },
  }, values, el);
  el.classList.add("drawn");
  return plot;
});

// Issues
// The values of an issue's metric per window (with its threshold), and its component's reference
// against production distribution; the page's tables hold the same numbers.
Raymon.issueChartSize = (el) => ({ width: Math.max(el.clientWidth, 320), height: 240 });
Raymon.on("[data-issue-chart]", (el) => {
  const data = Raymon.json(el.dataset.issueChart);
  if (!data || !data.series.length || typeof uPlot === "undefined") return;
  const s = data.series[0];
  const opened = data.opened;
  const plot = new uPlot({
    ...Raymon.issueChartSize(el),
    series: [
      {},
      { label: s.metric, stroke: "#2f6fde", width: 2, points: { show: true } },
      { label: "threshold", stroke: "#c62f3b", dash: [6, 4], width: 1 },
    ],
    hooks: {
      draw: [(u) => {
        if (opened === null) return;
        const x = u.valToPos(opened, "x", true);
        const ctx = u.ctx;
        ctx.save(); ctx.strokeStyle = "#b76e00"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.restore();
      }],
    },
  }, [s.t, s.value, s.threshold], el);
  window.addEventListener("resize", () => plot.setSize(Raymon.issueChartSize(el)));
});
Raymon.on("[data-issue-histogram]", (el) => {
  const data = Raymon.json(el.dataset.issueHistogram);
  if (!data || typeof uPlot === "undefined") return;
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.45, 60] }) : undefined;
  const categorical = data.kind === "categorical";
  const plot = new uPlot({
    ...Raymon.issueChartSize(el),
    scales: { x: { time: false } },
    axes: [
      { values: categorical ? (u, ticks) => ticks.map((t) => data.labels[t] ?? "") : undefined },
      { values: (u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
    ],
    series: [
      {},
      { label: "reference", stroke: "#2f6fde", fill: "rgba(47,111,222,0.25)", paths: bars },
      { label: "production", stroke: "#b76e00", fill: "rgba(183,110,0,0.25)", paths: bars },
    ],
  }, [data.x, data.reference, data.production], el);
  window.addEventListener("resize", () => plot.setSize(Raymon.issueChartSize(el)));
});
// A datetime-local input is read in the viewer's time zone: its form carries that zone's offset at
// the chosen time (minutes east of UTC), unless the page shows UTC (tz=utc).
Raymon.on("input[data-local-time]", (el) => {
  const offset = document.getElementById(el.dataset.localTime);
  if (!offset || new URLSearchParams(location.search).get("tz") === "utc") return;
  el.form.addEventListener("submit", () => {
    const moment = el.value ? new Date(el.value) : null;  // no zone in the text: local time
    offset.value = moment && !isNaN(moment) ? String(-moment.getTimezoneOffset()) : "";
  });
});

// Account and API keys
// A new key's field selects itself when focused, ready to copy.
Raymon.on("input[data-select-on-focus]", (el) => {
  el.addEventListener("focus", () => el.select());
});
