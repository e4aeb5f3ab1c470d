"""Self-contained HTML reports of a profile and of a contrast between two profiles.

``write_profile_html`` and ``write_contrast_html`` are what
``ModelProfile.view`` and ``ModelProfile.view_contrast`` call. A report is one
file that opens in any browser without a network: histograms are inline SVG
drawn here, the table sorting is a few lines of inline JavaScript, there is no
CDN or external asset. Everything that came from a user (profile, component
and category names, values) is HTML-escaped; no user text is ever placed
inside a script. This module never changes a profile and computes no metric
itself (``contrast`` and ``drift`` do).
"""

from __future__ import annotations

import html
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raymon.profiling import drift
from raymon.profiling.components import ERROR_KINDS, INT
from raymon.profiling.contrast import (
    ContrastReport,
    Thresholds,
    binned_counts,
    contrast_profiles,
    require_built,
)

REFERENCE_COLOUR = "#3b6fb6"
OTHER_COLOUR = "#e07b39"
TOP_CATEGORIES = 20
_CHART_W, _CHART_H, _PAD = 540, 140, 22

_ROOT = "raymon-report"  # every rule is scoped to it, so a report inside a notebook restyles nothing else
_STYLE = """
.raymon-report{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;max-width:1600px;
  line-height:1.35}
.raymon-report h1,.raymon-report h3,.raymon-report p{overflow-wrap:anywhere}
.raymon-report h1{font-size:1.5em}.raymon-report h2{font-size:1.2em;margin-top:2em}
.raymon-report h3{font-size:1em;margin:0 0 .4em}
.raymon-report table{border-collapse:collapse;margin:.5em 0;max-width:100%}
.raymon-report th,.raymon-report td{padding:.25em .5em;border-bottom:1px solid #ddd;text-align:left;
  vertical-align:top}
.raymon-report th.sortable{cursor:pointer;user-select:none}
.raymon-report th.sortable:after{content:" \\2195";color:#aaa}
.raymon-report th.num{text-align:right}
.raymon-report td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.raymon-report .cards{display:grid;gap:1em;grid-template-columns:repeat(auto-fill,minmax(min(100%,34em),1fr))}
.raymon-report .card{border:1px solid #ddd;border-radius:6px;padding:.8em;min-width:0}
.raymon-report .card svg{display:block;width:100%;height:auto}
.raymon-report .card table{font-size:.85em;width:100%}
.raymon-report .card thead th{white-space:nowrap}
.raymon-report .alert{color:#b00020;font-weight:600}.raymon-report .ok{color:#2e7d32}
.raymon-report .muted{color:#777}.raymon-report small{color:#666}
.raymon-report .verdict{font-size:1.2em;padding:.5em .8em;border-radius:6px;display:inline-block}
.raymon-report .verdict.alert{background:#fde7e9}.raymon-report .verdict.ok{background:#e8f5e9}
.raymon-report .verdict.nodata{background:#eee}
.raymon-report .legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}
.raymon-report .wide{overflow-x:auto;max-width:100%}
@media (max-width:1000px){.raymon-report table.drift{font-size:.75em}
  .raymon-report table.drift th,.raymon-report table.drift td{padding:.2em .25em}}
"""
_PAGE_STYLE = "body{margin:1.5em}@media (max-width:1000px){body{margin:1em}}"

# Sorts a table by a clicked header: numbers by data-sort value, text otherwise. No user data inside.
# It binds the tables of its own report only (a notebook may show several).
_SORT_JS = """
(function(root){
root.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th.sortable').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var desc = th.getAttribute('data-dir') !== 'desc';
      th.setAttribute('data-dir', desc ? 'desc' : 'asc');
      rows.sort(function(a, b){
        var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
        var nx = parseFloat(x), ny = parseFloat(y), r;
        if (!isNaN(nx) && !isNaN(ny)) { r = nx - ny; }
        else if (!isNaN(nx)) { r = 1; } else if (!isNaN(ny)) { r = -1; }
        else { r = String(x).localeCompare(String(y)); }
        return desc ? -r : r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
})(document.currentScript ? document.currentScript.parentElement : document);
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def _sort_key(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | np.number):
        x = float(value)
        return "" if math.isnan(x) else repr(x)
    return str(value)


def _cell(value: Any, css: str = "", text: str | None = None) -> str:
    shown = _e(text if text is not None else _fmt(value))
    num = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    classes = " ".join(c for c in (css, "num" if num else "") if c)
    cls = f' class="{classes}"' if classes else ""
    return f'<td{cls} data-sort="{_e(_sort_key(value))}">{shown}</td>'


def _is_numeric(stats: Any) -> bool:
    return hasattr(stats, "edges") and hasattr(stats, "sketch")


_private_dir: Path | None = None


def _report_dir() -> Path:
    """This process's private report directory (mode 0700, made by ``tempfile.mkdtemp``).

    The shared temp directory is writable by every local user: a fixed path there could be a
    symlink another user planted. A directory only this user can enter cannot.
    """
    global _private_dir
    if _private_dir is not None:
        try:
            st = os.lstat(_private_dir)
        except FileNotFoundError:
            st = None
        if (
            st is not None
            and stat.S_ISDIR(st.st_mode)
            and st.st_uid == os.getuid()
            and st.st_mode & 0o077 == 0
        ):
            return _private_dir
    _private_dir = Path(tempfile.mkdtemp(prefix="raymon-reports-"))
    return _private_dir


def _file_name(stem: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", stem).strip("_") or "report"
    return f"{safe}.html"


def _write_private(target: Path, text: str) -> None:
    """Create ``target`` afresh, readable by its owner only, never following a symlink."""
    target.unlink(missing_ok=True)  # in our private directory: the previous report of this name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _write_report(path: str | Path | None, stem: str, text: str) -> Path:
    """Write a report where the user said (a file or a directory), else into the private report directory."""
    if path is None:
        target = _report_dir() / _file_name(stem)
        _write_private(target, text)
        return target
    target = Path(path)
    if target.is_dir():
        target = target / _file_name(stem)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _fragment(body: str) -> str:
    """A report as one ``<div>``: its style scoped to it and its script bound to it (what notebooks show)."""
    return f'<div class="{_ROOT}"><style>{_STYLE}</style>{body}<script>{_SORT_JS}</script></div>'


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{_PAGE_STYLE}</style></head><body>{_fragment(body)}</body></html>\n"
    )


def _idfr(profile: Any) -> str:
    return str(getattr(profile, "group_idfr", None) or f"{profile.name}@{profile.version}")


# ---------------------------------------------------------------- charts


def _bars_svg(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    widths: Sequence[float] | None = None,
    axis: tuple[str, str] | None = None,
) -> str:
    """Overlaid bar chart: each series is (name, colour, proportions) over the same slots.

    ``widths`` gives each slot's relative width (bins of unequal width);
    ``axis`` labels the left and right ends of the x axis.
    """
    k = len(labels)
    if k == 0:
        return '<p class="muted">no values</p>'
    rel = np.asarray(widths if widths is not None else [1.0] * k, dtype=float)
    rel = np.where(np.isfinite(rel) & (rel > 0), rel, 1.0)
    x_edges = np.concatenate([[0.0], np.cumsum(rel)]) / rel.sum() * (_CHART_W - 2 * _PAD) + _PAD
    top = max((max(s[2]) if len(s[2]) else 0.0) for s in series) or 1.0
    plot_h = _CHART_H - 2 * _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_W}" height="{_CHART_H}" '
        f'viewBox="0 0 {_CHART_W} {_CHART_H}" role="img">'
    ]
    for name, colour, values in series:
        for i, v in enumerate(values):
            h = 0.0 if not math.isfinite(v) else v / top * plot_h
            x0, x1 = x_edges[i], x_edges[i + 1]
            parts.append(
                f'<rect x="{x0 + 0.5:.1f}" y="{_PAD + plot_h - h:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                f'height="{h:.1f}" fill="{colour}" fill-opacity="0.55">'
                f"<title>{_e(name)} · {_e(labels[i])}: {_e(_fmt(100 * v, 3))}%</title></rect>"
            )
    base = _PAD + plot_h
    parts.append(f'<line x1="{_PAD}" y1="{base}" x2="{_CHART_W - _PAD}" y2="{base}" stroke="#888"/>')
    parts.append(
        f'<text x="{_PAD}" y="{_PAD - 6}" font-size="10" fill="#666">max {_e(_fmt(100 * top, 3))}%</text>'
    )
    if axis is not None:
        parts.append(f'<text x="{_PAD}" y="{base + 14}" font-size="10" fill="#444">{_e(axis[0])}</text>')
        parts.append(
            f'<text x="{_CHART_W - _PAD}" y="{base + 14}" font-size="10" fill="#444" '
            f'text-anchor="end">{_e(axis[1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _on_integers(edges: np.ndarray) -> bool:
    """Whether ``edges`` are ``stats.integer_edges``: every edge half way between two integers."""
    return bool(edges.size and np.all(np.mod(edges, 1.0) == 0.5))


def _numeric_slots(
    edges: np.ndarray, counts_list: Sequence[np.ndarray], integer: bool = False
) -> tuple[list[str], list[float], list[int], tuple[str, str]]:
    """Bin labels, widths and the axis' end labels, keeping the below/above slots only when some side has values there.

    Bins on integers are labelled by the integers they hold (``3`` or ``3–5``), others as ``[a, b)``.
    """
    if integer:
        firsts, lasts = edges[:-1] + 0.5, edges[1:] - 0.5
        labels = [
            _fmt(int(a)) if a == b else f"{_fmt(int(a))}–{_fmt(int(b))}"
            for a, b in zip(firsts, lasts, strict=True)
        ]
        low, high = _fmt(int(firsts[0])), _fmt(int(lasts[-1]))
    else:
        labels = [f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])})" for i in range(edges.size - 1)]
        low, high = _fmt(edges[0]), _fmt(edges[-1])
    widths = list(np.diff(edges).astype(float))
    mean_w = float(np.mean(widths)) if widths else 1.0
    keep = list(range(1, edges.size))
    if any(c[0] > 0 for c in counts_list):
        labels = [f"< {low}"] + labels
        widths = [mean_w] + widths
        keep = [0] + keep
    if any(c[-1] > 0 for c in counts_list):
        labels = labels + [f"> {high}"]
        widths = widths + [mean_w]
        keep = keep + [edges.size]
    return labels, widths, keep, (low, high)


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts * 0.0


def _numeric_chart(ref: Any, oth: Any | None = None, integer: bool = False) -> str:
    """Histogram of numeric stats (and of ``oth`` on the same bins); ``integer``: an INT component's."""
    edges = np.asarray(ref.edges, dtype=float)
    if oth is None:
        counts = [np.asarray(ref.counts, dtype=float)]
    else:
        counts = list(binned_counts(ref, oth))
    labels, widths, keep, axis = _numeric_slots(edges, counts, integer and _on_integers(edges))
    names = [("reference", REFERENCE_COLOUR), ("other", OTHER_COLOUR)]
    series = [(names[i][0], names[i][1], list(_proportions(c)[keep])) for i, c in enumerate(counts)]
    return _bars_svg(labels, series, widths, axis=axis)


def _categorical_chart(ref: Any, oth: Any | None = None) -> str:
    ref_freq: Mapping[str, int] = ref.frequencies()
    oth_freq: Mapping[str, int] = oth.frequencies() if oth is not None else {}
    keys, rc, oc = drift.align_frequencies(ref_freq, oth_freq)
    rp, op = _proportions(rc), _proportions(oc)
    order = np.argsort(-(rp + op), kind="stable")[:TOP_CATEGORIES]
    labels = [keys[i] for i in order]
    series = [("reference", REFERENCE_COLOUR, list(rp[order]))]
    if oth is not None:
        series.append(("other", OTHER_COLOUR, list(op[order])))
    shown = (
        f"top {len(labels)} of {len(keys)} categories"
        if len(keys) > len(labels)
        else f"{len(keys)} categories"
    )
    return _bars_svg(labels, series) + f"<br><small>{_e(shown)}; hover a bar for its name</small>"


# ---------------------------------------------------------------- profile report


def _stats_rows(component: Any) -> list[tuple[str, Any]]:
    """What a card's table shows of one side: counts, missing (never again as errors), shape, error kinds."""
    s = component.stats
    total = int(s.count) + int(s.missing)
    rows: list[tuple[str, Any]] = [("values", int(s.count)), ("missing", int(s.missing))]
    rows.append(("missing rate", s.missing / total if total else None))
    if _is_numeric(s):
        rows += [("min", s.min), ("max", s.max), ("mean", s.mean), ("std", s.std)]
        qs = [0.05, 0.25, 0.5, 0.75, 0.95]
        values = np.atleast_1d(s.quantile(qs)) if s.count else [math.nan] * len(qs)
        rows += [(f"p{int(q * 100)}", float(v)) for q, v in zip(qs, values, strict=True)]
    else:
        rows.append(("distinct", len(s.frequencies())))
        if s.unseen:
            rows.append(("outside domain", int(s.unseen)))
    for name, count in sorted(component.value_errors.items()):
        rows.append((name, int(count)))
    return rows


def _stats_table(components: Sequence[Any], headers: Sequence[str] = ()) -> str:
    """One column per side (reference, other), one row per stat either side has."""
    columns = [dict(_stats_rows(c)) for c in components]
    order: list[str] = []
    for c in components:
        order += [k for k, _ in _stats_rows(c) if k not in order]
    head = ""
    if headers:
        head = (
            "<thead><tr><th></th>"
            + "".join(f'<th class="num">{_e(h)}</th>' for h in headers)
            + "</tr></thead>"
        )
    body = "".join(
        f"<tr><th>{_e(k)}</th>"
        + "".join(_cell(col.get(k, 0 if k in _ERROR_ROWS else None)) for col in columns)
        + "</tr>"
        for k in order
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


_ERROR_ROWS = frozenset(ERROR_KINDS)


def _component_card(name: str, component: Any, chart: str, extra: str = "", other: Any | None = None) -> str:
    """A component's card: chart, then its stats (both sides' when ``other`` is given), then ``extra``."""
    role = getattr(component, "role", "")
    dtype = getattr(component, "dtype", "")
    if other is None:
        table = _stats_table([component])
    else:
        table = _stats_table([component, other], ("reference", "other"))
    return (
        f'<div class="card" id="c-{_e(name)}"><h3>{_e(name)} <small>{_e(role)} · {_e(dtype)}</small></h3>'
        f"{chart}{table}{extra}</div>"
    )


def _chart(component: Any, other: Any | None = None) -> str:
    s = component.stats
    integer = getattr(component, "dtype", None) == INT
    if other is None:
        return _numeric_chart(s, integer=integer) if _is_numeric(s) else _categorical_chart(s)
    o = other.stats
    if _is_numeric(s) and _is_numeric(o):
        return _numeric_chart(s, o, integer=integer) if s.count and o.count else ""
    if not _is_numeric(s) and not _is_numeric(o):
        return _categorical_chart(s, o)
    return '<p class="alert">numeric in one profile, categorical in the other</p>'


def _scores_table(profile: Any, other: Any | None = None) -> str:
    scores = getattr(profile, "scores", None) or {}
    if not scores:
        return ""
    if other is None:
        head = "<th>score</th><th>preference</th><th>result</th>"
    else:
        head = "<th>score</th><th>preference</th><th>reference</th><th>other</th>"
    body = []
    for name, score in scores.items():
        cells = _cell(name) + _cell(getattr(score, "preference", "")) + _cell(getattr(score, "result", None))
        if other is not None:
            theirs = (getattr(other, "scores", None) or {}).get(name)
            cells += _cell(getattr(theirs, "result", None) if theirs is not None else None)
        body.append(f"<tr>{cells}</tr>")
    return f"<h2>Scores</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_profile_html(profile: Any) -> str:
    """The HTML text of a profile's report (``write_profile_html`` writes it to a file)."""
    return _page(f"Profile {_idfr(profile)}", _profile_body(profile))


def profile_fragment(profile: Any) -> str:
    """A profile's report as one self-contained ``<div>`` (``ModelProfile._repr_html_``, for notebooks).

    An unbuilt profile shows its components and says it is not built.
    """
    if not getattr(profile, "is_built", True):
        rows = "".join(
            f"<tr>{_cell(name)}{_cell(getattr(c, 'role', ''))}{_cell(getattr(c, 'dtype', None) or 'inferred')}</tr>"
            for name, c in profile.components.items()
        )
        body = (
            f'<h1>Profile {_e(_idfr(profile))}</h1><p class="muted">not built: call build() to see its stats.</p>'
            f"<table><thead><tr><th>component</th><th>role</th><th>type</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return _fragment(body)
    return _fragment(_profile_body(profile))


def _profile_body(profile: Any) -> str:
    idfr = _idfr(profile)
    components: Mapping[str, Any] = profile.components
    summary_rows = []
    cards = []
    for name, c in components.items():
        s = c.stats
        total = int(s.count) + int(s.missing)
        errors = sum(c.value_errors.values())
        summary_rows.append(
            "<tr>"
            + _cell(name, text=None)
            + _cell(getattr(c, "role", ""))
            + _cell(getattr(c, "dtype", ""))
            + _cell(int(s.count))
            + _cell(s.missing / total if total else math.nan)
            + _cell(int(errors))
            + "</tr>"
        )
        cards.append(_component_card(name, c, _chart(c)))
    table = (
        '<table class="sortable"><thead><tr>'
        + "".join(
            f'<th class="sortable">{h}</th>'
            for h in ("component", "role", "type", "values", "missing rate", "errors")
        )
        + f"</tr></thead><tbody>{''.join(summary_rows)}</tbody></table>"
    )
    return (
        f"<h1>Profile {_e(idfr)}</h1><p>{len(components)} components.</p>"
        f"{_scores_table(profile)}<h2>Components</h2>{table}"
        f'<h2>Distributions</h2><div class="cards">{"".join(cards)}</div>'
    )


def write_profile_html(profile: Any, path: str | Path | None = None) -> Path:
    """Write a profile's report to ``path`` (default: this process's private temp directory); answer the path."""
    require_built(profile, "viewed")
    return _write_report(path, f"profile-{_idfr(profile)}", render_profile_html(profile))


# ---------------------------------------------------------------- contrast report


def _drift_table(report: ContrastReport) -> str:
    by_component: dict[str, dict[str, Any]] = {}
    for r in report.rows:
        entry = by_component.setdefault(r.component, {"role": r.role, "alert": False, "status": set()})
        entry["alert"] = entry["alert"] or r.alert
        entry["status"].add(r.status)
        entry[r.metric] = r
    headers = (
        "component",
        "role",
        "drift metric",
        "drift score",
        "lower bound",
        "threshold",
        "p-value",
        "PSI",
        "missing rate change",
        "alerts",
        "status",
    )
    rows = []
    for name, entry in by_component.items():
        head = entry.get("ks_statistic") or entry.get("total_variation")
        pval = entry.get("ks_pvalue") or entry.get("chi_square_pvalue")
        psi = entry.get("psi")
        miss = entry.get("missing_rate")
        alerting = sorted({r.metric for r in report.rows if r.component == name and r.alert})
        if "alert" in entry["status"]:
            status = "alert"
        elif "ok" in entry["status"] or "no threshold" in entry["status"]:
            status = "ok"
        else:
            status = sorted(entry["status"])[0]
        css = "alert" if entry["alert"] else ("ok" if status == "ok" else "muted")
        rows.append(
            "<tr>"
            + f'<td data-sort="{_e(name)}"><a href="#c-{_e(name)}">{_e(name)}</a></td>'
            + _cell(entry["role"])
            + _cell(head.metric if head else "")
            + _cell(head.value if head else None)
            + _cell(head.lower_bound if head else None)
            + _cell(head.threshold if head else None)
            + _cell(pval.value if pval else None)
            + _cell(psi.value if psi else None)
            + _cell(miss.value if miss else None)
            + _cell(", ".join(alerting))
            + _cell(status, css)
            + "</tr>"
        )

    # initial order: highest drift score first
    def score(row_html: str) -> float:
        m = re.findall(r'data-sort="([^"]*)"', row_html)
        try:
            return float(m[3])
        except (ValueError, IndexError):
            return -1.0

    rows.sort(key=score, reverse=True)
    head_html = "".join(f'<th class="sortable">{_e(h)}</th>' for h in headers)
    return (
        f'<div class="wide"><table class="sortable drift"><thead><tr>{head_html}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _metrics_detail(report: ContrastReport, name: str) -> str:
    rows = [r for r in report.rows if r.component == name]
    body = "".join(
        "<tr>"
        + _cell(r.check)
        + _cell(r.metric)
        + _cell(r.value)
        + _cell(r.lower_bound)
        + _cell(r.threshold)
        + _cell(r.status, "alert" if r.alert else "")
        + "</tr>"
        for r in rows
    )
    return (
        "<table><thead><tr><th>check</th><th>metric</th><th>value</th><th>lower bound</th>"
        f"<th>threshold</th><th>status</th></tr></thead><tbody>{body}</tbody></table>"
    )


def render_contrast_html(reference: Any, other: Any, report: ContrastReport) -> str:
    """The HTML text of a contrast report between two profiles."""
    return _page(f"Contrast {_idfr(reference)} vs {_idfr(other)}", _contrast_body(reference, other, report))


def contrast_fragment(report: ContrastReport) -> str:
    """A contrast report as one self-contained ``<div>`` (``ContrastReport._repr_html_``, for notebooks).

    With the profiles it was made from (``ModelProfile.contrast``), the whole report; a report
    read back from JSON has no stats to draw, so its verdict and drift table.
    """
    if report.profiles is not None:
        return _fragment(_contrast_body(*report.profiles, report))
    body = (
        f"<h1>Contrast {_e(report.reference)} → {_e(report.other)}</h1>{_verdict(report)}"
        f"<h2>Drift by component</h2>{_drift_table(report)}"
    )
    return _fragment(body)


def _verdict(report: ContrastReport) -> str:
    vcss = {"alert": "alert", "ok": "ok"}.get(report.verdict, "nodata")
    flagged = report.flagged()
    return (
        f'<p class="verdict {vcss}">Verdict: {_e(report.verdict)}'
        + (f" — alerts on {_e(', '.join(flagged))}" if flagged else "")
        + "</p>"
    )


def _contrast_body(reference: Any, other: Any, report: ContrastReport) -> str:
    ref_id, oth_id = _idfr(reference), _idfr(other)
    summary = _verdict(report)
    th = report.thresholds
    legend = (
        f'<p class="legend">Histograms:<span style="background:{REFERENCE_COLOUR}"></span>reference '
        f'({_e(ref_id)})<span style="background:{OTHER_COLOUR}"></span>other ({_e(oth_id)}), as shares of '
        "each side's values, on the reference's bins.</p>"
        f"<p><small>Alerts use effect sizes' lower confidence bounds (alpha {_e(_fmt(th.alpha))}); "
        f"checks with fewer than {_e(th.min_count)} values on a side report “not enough data”. "
        "Click a column header to sort.</small></p>"
    )
    cards = []
    ref_components: Mapping[str, Any] = reference.components
    oth_components: Mapping[str, Any] = other.components
    for name, c in ref_components.items():
        theirs = oth_components.get(name)
        if theirs is None:
            chart = '<p class="alert">not in the other profile</p>'
            cards.append(_component_card(name, c, chart, _metrics_detail(report, name)))
        else:
            cards.append(_component_card(name, c, _chart(c, theirs), _metrics_detail(report, name), theirs))
    return (
        f"<h1>Contrast {_e(ref_id)} → {_e(oth_id)}</h1>{summary}{legend}"
        f"<h2>Drift by component</h2>{_drift_table(report)}"
        f"{_scores_table(reference, other)}"
        f'<h2>Distributions</h2><div class="cards">{"".join(cards)}</div>'
    )


def write_contrast_html(
    reference: Any,
    other: Any,
    path: str | Path | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> Path:
    """Contrast two profiles and write the report to ``path`` (default: as ``write_profile_html``)."""
    report = contrast_profiles(reference, other, thresholds)
    text = render_contrast_html(reference, other, report)
    return _write_report(path, f"contrast-{_idfr(reference)}-vs-{_idfr(other)}", text)


# ---------------------------------------------------------------- the same content as data (the server's pages)


def stats_rows(component: Any) -> list[tuple[str, Any]]:
    """What a component card's stats table shows, as ``(label, value)`` pairs (the server's pages render them)."""
    return _stats_rows(component)


def histogram_data(component: Any, other: Any | None = None) -> dict[str, Any] | None:
    """A card's histogram as data: ``{"kind", "labels", "reference", "other", "note"}`` (shares of values).

    The same bins as the report's SVG (numeric: the reference's bins, with the below/above slots
    when some side has values there; categorical: the top ``TOP_CATEGORIES`` categories of both
    sides). ``other`` is None for one profile's view; None when there is nothing to draw (a side
    without values, or numeric on one side and categorical on the other).
    """
    s = component.stats
    o = other.stats if other is not None else None
    if _is_numeric(s) and (o is None or _is_numeric(o)):
        if o is not None and not (s.count and o.count):
            return None
        edges = np.asarray(s.edges, dtype=float)
        counts = [np.asarray(s.counts, dtype=float)] if o is None else list(binned_counts(s, o))
        integer = getattr(component, "dtype", None) == INT and _on_integers(edges)
        labels, _widths, keep, _axis = _numeric_slots(edges, counts, integer)
        shares = [[float(x) for x in _proportions(c)[keep]] for c in counts]
        return {
            "kind": "numeric",
            "labels": labels,
            "reference": shares[0],
            "other": shares[1] if o is not None else None,
            "note": f"{len(labels)} bins",
        }
    if not _is_numeric(s) and (o is None or not _is_numeric(o)):
        keys, rc, oc = drift.align_frequencies(s.frequencies(), o.frequencies() if o is not None else {})
        rp, op = _proportions(rc), _proportions(oc)
        order = np.argsort(-(rp + op), kind="stable")[:TOP_CATEGORIES]
        shown = (
            f"top {len(order)} of {len(keys)} categories"
            if len(keys) > len(order)
            else f"{len(keys)} categories"
        )
        return {
            "kind": "categorical",
            "labels": [str(keys[i]) for i in order],
            "reference": [float(rp[i]) for i in order],
            "other": [float(op[i]) for i in order] if o is not None else None,
            "note": shown,
        }
    return None
