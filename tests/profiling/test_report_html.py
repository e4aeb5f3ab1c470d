"""HTML reports: self-contained files with every user-provided text escaped, sortable in a real browser."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from profiling_houses import FEATURES, build_houses, house_profile

from raymon.profiling import ModelProfile, generate_components, report_html
from raymon.profiling.contrast import ContrastReport
from raymon.profiling.report_html import (
    render_contrast_html,
    render_profile_html,
    write_contrast_html,
    write_profile_html,
)
from raymon.profiling.stats import integer_edges, numeric_edges

HOSTILE = '<img src=x onerror="alert(1)">&</td>'


def _profile(df: pd.DataFrame, name: str) -> ModelProfile:
    return ModelProfile(name, "1.0.0", generate_components(df.dtypes)).build(input=df, silent=True)


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 2000
    ref = pd.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(size=n),
            "mild": rng.normal(size=n),
            "colour": rng.choice(["red", "green", HOSTILE], n),
        }
    )
    cur = pd.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(2.0, 1.0, n),
            "mild": rng.normal(0.4, 1.0, n),
            "colour": rng.choice(["red", HOSTILE, "<b>new</b>"], n),
        }
    )
    return ref, cur


@pytest.fixture(scope="module")
def profiles(frames: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[ModelProfile, ModelProfile]:
    return _profile(frames[0], "reference"), _profile(frames[1], "current")


class _Collector(HTMLParser):
    """Collects the tags and attributes of a page, to check it loads nothing from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _assert_self_contained(text: str) -> None:
    parser = _Collector()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
        assert "src" not in attrs, (tag, attrs)
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, href)


def _assert_escaped(text: str) -> None:
    assert HOSTILE not in text
    assert "<b>new</b>" not in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&lt;/td&gt;" in text


def test_profile_report_is_one_self_contained_file_with_a_chart_per_component(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path
) -> None:
    ref, _ = profiles
    path = ref.view(tmp_path / "profile.html")
    assert path == tmp_path / "profile.html" and path.exists()
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert text.count("<svg") == len(ref.components)
    for name in ref.components:
        assert f'id="c-{name}"' in text
    assert "reference@1.0.0" in text


def test_profile_report_escapes_category_values(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path
) -> None:
    text = write_profile_html(profiles[0], tmp_path).read_text(encoding="utf-8")
    _assert_escaped(text)


def test_contrast_report_escapes_and_is_self_contained(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path
) -> None:
    ref, cur = profiles
    path = ref.view_contrast(cur, tmp_path / "contrast.html")
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    _assert_escaped(text)
    assert "Verdict: alert" in text
    # every component's card overlays two series: reference and other
    assert text.count("<svg") == len(ref.components)
    assert "<title>other" in text and "<title>reference" in text


def _drift_table_rows(text: str) -> list[str]:
    table = re.search(r'<table class="sortable drift">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert table is not None
    return re.findall(r'<tr><td data-sort="([^"]*)"', table.group(1))


def test_contrast_drift_table_starts_with_the_most_drifted_component(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path
) -> None:
    text = write_contrast_html(*profiles, path=tmp_path).read_text(encoding="utf-8")
    order = _drift_table_rows(text)
    assert order[0] == "shifted"
    assert order.index("mild") < order.index("stable")


def test_default_path_is_a_private_temp_dir_and_named_after_the_profiles(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(report_html, "_private_dir", None)
    path = write_contrast_html(*profiles)
    assert path.name == "contrast-reference@1.0.0-vs-current@1.0.0.html"
    assert path.parent.parent == tmp_path and path.parent.name.startswith("raymon-reports-")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = write_contrast_html(*profiles)  # a second view replaces the first in the same directory
    assert again == path and "Verdict" in again.read_text(encoding="utf-8")


def test_view_never_follows_a_symlink_planted_at_the_old_shared_path(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared-tmp"
    (shared / "raymon-reports").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    planted = shared / "raymon-reports" / "profile-reference@1.0.0.html"  # where view() used to write
    planted.symlink_to(victim)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setattr(report_html, "_private_dir", None)
    path = profiles[0].view()
    assert victim.read_text(encoding="utf-8") == "precious"
    assert path != planted and not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "reference@1.0.0" in path.read_text(encoding="utf-8")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_drift_table_sorts_by_a_clicked_column_in_a_real_browser(
    profiles: tuple[ModelProfile, ModelProfile], tmp_path: Path
) -> None:
    text = write_contrast_html(*profiles, path=tmp_path / "c.html").read_text(encoding="utf-8")
    # click the "component" header once (descending) after the page's own script has run
    click = "<script>document.querySelector('table.sortable th.sortable').click();</script></body>"
    page = tmp_path / "clicked.html"
    page.write_text(text.replace("</body>", click), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    order = _drift_table_rows(dom)
    assert order == sorted(order, reverse=True)
    assert order != _drift_table_rows(text)


# ---------------------------------------------------------------- the house-prices reports


@pytest.fixture(scope="module")
def houses_pair(houses: pd.DataFrame, houses_expensive: pd.DataFrame) -> tuple[ModelProfile, ModelProfile]:
    reference = build_houses(house_profile(houses[FEATURES].dtypes), houses)
    other = build_houses(house_profile(houses_expensive[FEATURES].dtypes, "2.0.0"), houses_expensive)
    return reference, other


def _summary_row(text: str, name: str) -> list[str]:
    """The data-sort values of a component's row in the profile report's summary table."""
    row = re.search(rf'<tr><td data-sort="{name}">.*?</tr>', text)
    assert row is not None, name
    return re.findall(r'data-sort="([^"]*)"', row.group(0))


def _card(text: str, name: str) -> str:
    card = re.search(rf'<div class="card" id="c-{name}">(.*?)</div>', text, re.S)
    assert card is not None, name
    return card.group(1)


def test_missing_values_are_counted_as_missing_not_again_as_errors(
    houses_pair: tuple[ModelProfile, ModelProfile], houses: pd.DataFrame
) -> None:
    reference = houses_pair[0]
    n_missing = int(houses["LotFrontage"].isna().sum())
    assert n_missing == 172 and reference.components["lotfrontage"].stats.missing == n_missing
    text = render_profile_html(reference)
    _, _, _, values, missing_rate, errors = _summary_row(text, "lotfrontage")
    assert float(values) == len(houses) - n_missing
    assert float(missing_rate) == pytest.approx(n_missing / len(houses))
    assert float(errors) == 0
    card = _card(text, "lotfrontage")
    assert "Value NaN" not in card and "<th>missing</th>" in card
    # the validation tags still say why a value is absent, and the contrast's error rate ignores it
    absent = int(np.flatnonzero(houses["LotFrontage"].isna().to_numpy())[0])
    present = int(np.flatnonzero(houses["LotFrontage"].notna().to_numpy())[0])
    tags = reference.validate_input(houses[FEATURES].iloc[[present, absent]], tag_format="simple")
    assert [t.get("lotfrontage-error") for t in tags] == [None, "Value NaN"]
    contrast = reference.contrast(houses_pair[1])
    assert contrast.row("lotfrontage", "error_rate").n_reference == len(houses)


def test_int_components_with_few_values_get_one_bin_per_integer(
    houses_pair: tuple[ModelProfile, ModelProfile],
) -> None:
    qual = houses_pair[0].components["overallqual"]
    assert qual.dtype == "INT"
    assert qual.stats.edges.tolist() == [k - 0.5 for k in range(1, 12)]
    inner = qual.stats.counts[1:-1]
    assert inner.sum() == qual.stats.count and inner[0] > 0 and inner[-1] > 0
    text = render_profile_html(houses_pair[0])
    card = _card(text, "overallqual")
    assert (
        card.count("<rect") == 10 and "<title>reference · 5: " in card and "[" not in card.split("<table")[0]
    )


def test_int_components_with_a_wide_range_get_integer_aligned_bins(
    houses_pair: tuple[ModelProfile, ModelProfile], houses: pd.DataFrame
) -> None:
    year = houses_pair[0].components["yearbuilt"].stats
    lo, hi = int(houses["YearBuilt"].min()), int(houses["YearBuilt"].max())
    edges = year.edges
    assert edges[0] == lo - 0.5 and edges[-1] == hi + 0.5 and len(edges) - 1 <= 20
    assert np.all(np.mod(edges, 1) == 0.5)  # every bin holds whole years
    widths = np.diff(edges)
    assert len(set(widths[:-1].tolist())) == 1 and 1 <= widths[-1] <= widths[0]
    assert year.counts[0] == year.counts[-1] == 0 and year.counts[1:-1].sum() == len(houses)
    card = _card(render_profile_html(houses_pair[0]), "yearbuilt")
    assert f"<title>reference · {lo:,}–{lo + int(widths[0]) - 1:,}: " in card


def test_integer_edges_hold_whole_numbers_and_end_at_the_range() -> None:
    assert integer_edges(3, 3).tolist() == [2.5, 3.5]
    assert integer_edges(0, 19, 20).tolist() == [k - 0.5 for k in range(21)]
    assert integer_edges(0, 20, 20).tolist()[-2:] == [19.5, 20.5]  # 21 integers: 2 per bin, the last holds 1
    assert integer_edges(0.2, 0.8).tolist() == numeric_edges(0.2, 0.8).tolist()  # no integer inside
    assert integer_edges(-1e300, 1e300).tolist() == numeric_edges(-1e300, 1e300).tolist()


def test_contrast_cards_show_the_reference_and_the_others_stats(
    houses_pair: tuple[ModelProfile, ModelProfile],
) -> None:
    reference, other = houses_pair
    report = reference.contrast(other)
    card = _card(render_contrast_html(reference, other, report), "lotarea")
    assert '<th class="num">reference</th><th class="num">other</th>' in card
    values = re.search(r"<tr><th>values</th>(.*?)</tr>", card)
    assert values is not None
    counts = re.findall(r'data-sort="([^"]*)"', values.group(1))
    assert [int(float(c)) for c in counts] == [
        reference.components["lotarea"].stats.count,
        other.components["lotarea"].stats.count,
    ]
    maxima = re.search(r"<tr><th>max</th>(.*?)</tr>", card)
    assert maxima is not None
    assert [float(m) for m in re.findall(r'data-sort="([^"]*)"', maxima.group(1))] == [
        reference.components["lotarea"].stats.max,
        other.components["lotarea"].stats.max,
    ]


_MEASURE = """<script>
window.addEventListener('load', function(){
  var width = document.documentElement.clientWidth, clipped = [];
  document.querySelectorAll('body *').forEach(function(el){
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 0.5) clipped.push(el.tagName + ' ends at ' + Math.round(r.right));
    if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
      clipped.push(el.tagName + ' scrolls');
  });
  document.body.setAttribute('data-viewport', width);
  document.body.setAttribute('data-clipped', clipped.length + ': ' + clipped.slice(0, 5).join('; '));
});
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
@pytest.mark.parametrize("window", [1400, 800])
def test_reports_fit_the_window_without_horizontal_clipping_in_a_real_browser(
    houses_pair: tuple[ModelProfile, ModelProfile], tmp_path: Path, window: int
) -> None:
    reference, other = houses_pair
    pages = {
        "profile": reference.view(tmp_path / "p.html"),
        "contrast": reference.view_contrast(other, tmp_path / "c.html"),
    }
    assert CHROMIUM is not None
    for kind, path in pages.items():
        page = tmp_path / f"measured-{kind}.html"
        page.write_text(path.read_text(encoding="utf-8").replace("</body>", _MEASURE), encoding="utf-8")
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--window-size={window},900",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        viewport = re.search(r'data-viewport="(\d+)"', dom)
        clipped = re.search(r'data-clipped="([^"]*)"', dom)
        assert viewport is not None and clipped is not None, dom[:500]
        assert window - 40 <= int(viewport.group(1)) <= window
        assert clipped.group(1) == "0: ", (kind, clipped.group(1))


def _assert_scoped_fragment(fragment: str) -> None:
    """What a notebook shows: one div, its CSS scoped to it, nothing loaded from elsewhere."""
    assert fragment.startswith('<div class="raymon-report">') and fragment.endswith("</div>")
    assert "<html" not in fragment and "<body" not in fragment
    _assert_self_contained(fragment)
    assert "http://" not in fragment.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in fragment
    style = re.search(r"<style>(.*?)</style>", fragment, re.S)
    assert style is not None
    css = re.sub(r"@media[^{]*\{", "", style.group(1))
    for selectors in re.findall(r"([^{}]+)\{[^{}]*\}", css):
        for selector in selectors.split(","):
            assert selector.strip().startswith(".raymon-report"), selector


def test_a_profile_shows_inline_in_a_notebook(profiles: tuple[ModelProfile, ModelProfile]) -> None:
    fragment = profiles[0]._repr_html_()
    _assert_scoped_fragment(fragment)
    _assert_escaped(fragment)
    assert fragment.count("<svg") == len(profiles[0].components)
    unbuilt = ModelProfile("draft", "0.1", generate_components(pd.DataFrame({"a": [1]}).dtypes))._repr_html_()
    _assert_scoped_fragment(unbuilt)
    assert "not built" in unbuilt and '<td data-sort="a">a</td>' in unbuilt


def test_a_contrast_report_shows_inline_in_a_notebook(profiles: tuple[ModelProfile, ModelProfile]) -> None:
    report = profiles[0].contrast(profiles[1])
    fragment = report._repr_html_()
    _assert_scoped_fragment(fragment)
    _assert_escaped(fragment)
    assert "Verdict: alert" in fragment and fragment.count("<svg") == len(profiles[0].components)
    # read back from JSON it has no stats to draw: the verdict and the drift table
    loaded = ContrastReport.from_jcr(report.to_jcr())._repr_html_()
    _assert_scoped_fragment(loaded)
    assert "Verdict: alert" in loaded and "<svg" not in loaded
    assert _drift_table_rows(loaded) == _drift_table_rows(fragment)


def test_histogram_data_gives_the_reports_bars_as_shares_for_the_server_pages(
    profiles: tuple[ModelProfile, ModelProfile],
) -> None:
    reference, other = profiles
    for name, component in reference.components.items():
        alone = report_html.histogram_data(component)
        assert alone is not None and alone["other"] is None
        assert len(alone["labels"]) == len(alone["reference"])
        assert sum(alone["reference"]) == pytest.approx(1.0)
        both = report_html.histogram_data(component, other.components[name])
        assert both is not None and len(both["other"]) == len(both["labels"]) == len(both["reference"])
        assert sum(both["other"]) == pytest.approx(1.0, abs=1e-9) or sum(both["other"]) == 0
        if both["kind"] == "categorical":
            assert len(both["labels"]) <= report_html.TOP_CATEGORIES
    stats = dict(report_html.stats_rows(next(iter(reference.components.values()))))
    assert {"values", "missing", "missing rate"} <= set(stats)
