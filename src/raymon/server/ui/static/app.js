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

// Account and API keys
// A new key's field selects itself when focused, ready to copy.
Raymon.on("input[data-select-on-focus]", (el) => {
  el.addEventListener("focus", () => el.select());
});
