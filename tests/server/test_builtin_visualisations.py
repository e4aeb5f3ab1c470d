"""The built-in visualisations answer HTML that escapes the data and that the pages' CSP allows.

Each is called as the trace page calls it (``function(inputs, params)``) with hostile text
in every place a value can hide: cells, column names, index names and labels, a Series
name, dictionary keys, string arrays. The answer never holds a tag of the data, a
``style`` attribute (the CSP forbids them) or a script.
"""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import raymon.types as rt
from raymon.server.engine import builtin_visualisations as visuals
from raymon.server.plugins import Plugins
from raymon.server.settings import Settings

HOSTILE = '<img src=x onerror="alert(1)">'
CLOSE = "</script><script>alert(1)</script>"


TAGS = {"table", "thead", "tbody", "tr", "th", "td", "p", "pre", "img"}
ATTRIBUTES = {"class", "scope", "alt", "src", "border"}


class _Markup(HTMLParser):
    """Every tag and attribute of an HTML text, as a browser's tokeniser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _no_markup_from_data(html: str) -> None:
    """Only the visualisation's own tags and attributes: none from the data, no style, no handler."""
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in TAGS, (tag, html)
        assert {name for name, _ in attrs} <= ATTRIBUTES, (tag, attrs)
        if tag == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")  # type: ignore[union-attr]
    assert "<script" not in html and "<img src=x" not in html


@pytest.mark.parametrize("function", [visuals.pandas2html, visuals.dataframe_table])
def test_frame_tables_escape_cells_column_names_and_index_labels(function: Any) -> None:
    frame = pd.DataFrame(
        {HOSTILE: [CLOSE, 1.5], "plain": ["a", None]}, index=pd.Index([CLOSE, "b"], name=HOSTILE)
    )
    html = function({"data": rt.DataFrame(frame)}, {})
    _no_markup_from_data(html)
    assert html.count("&lt;img src=x onerror=") == 2  # the column name and the index name
    assert html.count("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # a cell, a label


@pytest.mark.parametrize("function", [visuals.pandas2html, visuals.dataframe_table])
def test_frame_tables_escape_multi_level_columns_and_a_series_name(function: Any) -> None:
    columns = pd.MultiIndex.from_tuples([(HOSTILE, CLOSE), ("b", "c")])
    frame = pd.DataFrame([[1, 2]], columns=columns)
    _no_markup_from_data(function({"data": rt.DataFrame(frame)}, {}))
    series = pd.Series([HOSTILE], name=CLOSE)
    html = function({"data": rt.Series(series)}, {})
    _no_markup_from_data(html)
    assert "&lt;/script&gt;" in html and "&lt;img" in html


def test_dataframe_table_shows_the_first_rows_and_counts_the_rest() -> None:
    frame = pd.DataFrame({"n": range(7)})
    html = visuals.dataframe_table({"data": rt.DataFrame(frame)}, {"limit": 3})
    assert html.count('<th scope="row">') == 3 and "4 more rows not shown" in html
    assert "7 rows &times; 1 columns" in html and '<td class="num">2</td>' in html
    everything = visuals.dataframe_table({"data": rt.DataFrame(frame)}, {"limit": None})
    assert everything.count('<th scope="row">') == 7 and "more rows" not in everything
    assert visuals.pandas2html({"data": rt.DataFrame(frame)}, {"limit": 3}).count("<tr>") == 4  # header + 3


def test_a_limit_that_is_no_positive_whole_number_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="limit must be a positive whole number or null, got 0"):
        visuals.dataframe_table({"data": rt.DataFrame(pd.DataFrame({"a": [1]}))}, {"limit": 0})


def test_native2html_escapes_keys_and_values_and_cuts_long_lists() -> None:
    html = visuals.native2html({"data": rt.Native({HOSTILE: [CLOSE] * 5})}, {"limit": 2})
    _no_markup_from_data(html)
    cut = visuals.native2html({"data": rt.Native(list(range(10)))}, {"limit": 4})
    assert "6 more items not shown" in cut and "4" not in cut.split("</pre>")[0]


def test_numpy2html_tables_an_array_with_a_heatmap_for_a_2d_numeric_one() -> None:
    matrix = np.arange(6, dtype="float32").reshape(2, 3)
    html = visuals.numpy2html({"data": rt.Numpy(matrix)}, {})
    assert "shape (2, 3), dtype float32" in html and html.count('<th scope="row">') == 2
    src = re.search(r'class="raymon-heatmap" alt="[^"]*" src="data:image/png;base64,([^"]+)"', html)
    assert src is not None
    heatmap = Image.open(io.BytesIO(base64.b64decode(src.group(1))))
    assert (
        heatmap.mode == "L"
        and heatmap.getpixel((0, 0)) == 0
        and heatmap.getpixel((heatmap.width - 1, heatmap.height - 1)) == 255
    )
    strings = visuals.numpy2html({"data": rt.Numpy(np.array([HOSTILE, CLOSE], dtype=object))}, {})
    _no_markup_from_data(strings)
    assert "raymon-heatmap" not in strings and "&lt;img" in strings
    cube = visuals.numpy2html({"data": rt.Numpy(np.zeros((2, 2, 2)))}, {})
    assert '<th scope="row">1, 1</th>' in cube and "raymon-heatmap" not in cube


def test_img2html_points_at_the_page_url_or_inlines_a_png() -> None:
    picture = rt.Image(Image.new("CMYK", (4, 3)))
    linked = visuals.img2html({"data": picture}, {"urls": {"data": '/x?a=1&b="2"'}})
    assert linked == '<img class="raymon-image" alt="4x3 CMYK image" src="/x?a=1&amp;b=&quot;2&quot;">'
    inline = visuals.img2html({"data": picture}, {})
    assert 'src="data:image/png;base64,' in inline


def test_the_built_ins_are_registered_as_plugins_of_the_public_hook() -> None:
    plugins = Plugins.load(Settings(), entry_points=[])
    for name in ("dataframe_table", "numpy2html", "pandas2html", "img2html", "native2html"):
        assert plugins.visualisation(name).function is getattr(visuals, name)
