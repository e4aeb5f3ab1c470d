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

from raymon.profiling import ModelProfile, generate_components, report_html
from raymon.profiling.report_html import write_contrast_html, write_profile_html

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
