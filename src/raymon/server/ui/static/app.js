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
