"""The built-in visualisations: the original Raymon's ``img2html``, ``pandas2html``, ``native2html``, and
``dataframe_table`` and ``numpy2html``.

A manifest's ``visualize`` actions name them (``function: img2html``); the trace page calls
them with the trace's loaded objects (``hookspecs.Visualisation``: ``function(inputs,
params) -> str``), and uses them as the default for an object no action names
(``services.trace_views``). Besides the action's own ``params``, the page passes ``limit``
(how many rows or items to show; ``None``: all of them) and ``urls`` (each input's URL on
the trace page, for an image to be fetched rather than inlined).

Everything taken from the data is escaped: an object can hold hostile HTML (cells, column
names, index labels, dictionary keys). The HTML has no ``style`` attribute and no script:
the pages' Content-Security-Policy forbids both. They never read the database and never
fetch anything.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

import orjson

DEFAULT_ROWS = 50
MAX_NATIVE_CHARS = 20_000
MAX_IMAGE_SIDE = 1024
HEATMAP_MAX_CELLS = 256  # a side of the heatmap, in cells: a larger array is sampled
HEATMAP_CELL_PIXELS = 32  # the largest a cell is drawn; a big array gets smaller cells
_PANDAS_HEADER_STYLE = '<tr style="text-align: right;">'  # pandas writes it; escaped cells never contain "<"


def _only(inputs: Mapping[str, Any], function: str) -> tuple[str, Any]:
    if len(inputs) != 1:
        raise ValueError(f"{function} takes one input, got {sorted(inputs)}")
    return next(iter(inputs.items()))


def limit_of(params: Mapping[str, Any] | None) -> int | None:
    """How many rows or items to show: ``params["limit"]`` (``None``: all), else ``DEFAULT_ROWS``."""
    if not params or "limit" not in params:
        return DEFAULT_ROWS
    limit = params["limit"]
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number or null, got {limit!r}")
    return limit


def _more(hidden: int, what: str) -> str:
    return f'<p class="raymon-more">{hidden} more {what} not shown</p>' if hidden > 0 else ""


# --- images ------------------------------------------------------------------------------------------


def img2html(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """An ``rt.Image`` as an ``<img>``: from ``params["urls"]`` when the page gives one, else inline PNG."""
    import raymon.types as rt

    name, image = _only(inputs, "img2html")
    if not isinstance(image, rt.Image):
        raise TypeError(f"img2html shows an rt.Image, got {type(image).__name__}")
    picture = image.data
    alt = escape(f"{picture.width}x{picture.height} {picture.mode} image")
    url = (params.get("urls") or {}).get(name)
    if url:
        return f'<img class="raymon-image" alt="{alt}" src="{escape(str(url))}">'
    thumb = picture.copy()
    thumb.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    if thumb.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        thumb = thumb.convert("RGBA")
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="raymon-image" alt="{alt}" src="data:image/png;base64,{encoded}">'


# --- tables -------------------------------------------------------------------------------------------


def _frame_of(value: Any, function: str) -> Any:
    import pandas as pd

    import raymon.types as rt

    if not isinstance(value, (rt.DataFrame, rt.Series)):
        raise TypeError(f"{function} shows an rt.DataFrame or rt.Series, got {type(value).__name__}")
    return value.data if isinstance(value.data, pd.DataFrame) else value.data.to_frame()


def pandas2html(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """An ``rt.DataFrame`` or ``rt.Series`` as pandas formats it (``to_html(escape=True)``), first ``limit`` rows.

    pandas escapes cells, column names and index labels (``<``, ``>``, ``&``); the one
    ``style`` attribute it writes (the header row's alignment) is dropped for the CSP.
    """
    _, value = _only(inputs, "pandas2html")
    frame = _frame_of(value, "pandas2html")
    limit = limit_of(params)
    shown = frame if limit is None else frame.head(limit)
    table = shown.to_html(escape=True, border=0, classes="raymon-table")
    table = table.replace(_PANDAS_HEADER_STYLE, "<tr>")
    return table + _more(len(frame) - len(shown), "rows")


def _label(value: Any) -> str:
    if isinstance(value, tuple):
        return " / ".join(_label(part) for part in value)
    return "" if value is None else str(value)


def _cell(value: Any) -> str:
    """One cell as escaped ``<td>``; numbers right-aligned (class ``num``), missing values marked."""
    import pandas as pd

    try:
        missing = bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array in a cell
        missing = False
    if missing:
        return '<td class="missing">&mdash;</td>'
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return f'<td class="num">{escape(str(value))}</td>'
    return f"<td>{escape(str(value))}</td>"


def _table(columns: Iterable[Any], index_names: Iterable[Any], rows: Iterable[tuple[Any, list[Any]]]) -> str:
    head = "".join(f'<th scope="col">{escape(_label(n))}</th>' for n in index_names)
    head += "".join(f'<th scope="col">{escape(_label(c))}</th>' for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<th scope="row">{escape(_label(x))}</th>' for x in key)
        + "".join(map(_cell, cells))
        + "</tr>"
        for key, cells in rows
    )
    return f'<table class="raymon-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def dataframe_table(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """An ``rt.DataFrame`` or ``rt.Series`` as a table built here, every cell, label and name escaped.

    Never pandas' ``Styler.to_html`` (which does not escape). Shows the first ``limit`` rows
    and says how many more there are; the shape is in the caption.
    """
    _, value = _only(inputs, "dataframe_table")
    frame = _frame_of(value, "dataframe_table")
    limit = limit_of(params)
    shown = frame if limit is None else frame.head(limit)
    levels = shown.index.nlevels
    index_names = [name if name is not None else "" for name in shown.index.names]
    keys = [key if levels > 1 else (key,) for key in shown.index]
    rows = [(key, list(shown.iloc[i])) for i, key in enumerate(keys)]
    caption = f'<p class="raymon-shape">{len(frame)} rows &times; {frame.shape[1]} columns</p>'
    return caption + _table(shown.columns, index_names, rows) + _more(len(frame) - len(shown), "rows")


# --- NumPy ------------------------------------------------------------------------------------------


def _heatmap(array: Any) -> str:
    """A 2-D numeric array as a small grey-scale PNG (a data: URL, as img-src allows), dark = low."""
    import numpy as np
    from PIL import Image as PILImage

    values = np.asarray(array, dtype="float64")
    step_r = max(1, math.ceil(values.shape[0] / HEATMAP_MAX_CELLS))
    step_c = max(1, math.ceil(values.shape[1] / HEATMAP_MAX_CELLS))
    values = values[::step_r, ::step_c]
    finite = np.isfinite(values)
    if not finite.any():
        return ""
    low, high = float(values[finite].min()), float(values[finite].max())
    span = high - low or 1.0
    scaled = np.where(finite, (values - low) / span * 255.0, 0.0).astype("uint8")
    picture = PILImage.fromarray(scaled, mode="L")
    scale = max(1, min(HEATMAP_CELL_PIXELS, 512 // max(picture.width, picture.height)))
    picture = picture.resize((picture.width * scale, picture.height * scale), PILImage.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = escape(
        f"heatmap of a {array.shape[0]}x{array.shape[1]} array, from {low:g} (dark) to {high:g} (light)"
    )
    return f'<img class="raymon-heatmap" alt="{alt}" src="data:image/png;base64,{encoded}">'


def numpy2html(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """An ``rt.Numpy`` array: shape and dtype, a heatmap of a 2-D numeric one, and a table of its first rows.

    A 1-D array is one column; a 2-D array its rows and columns; more dimensions are
    flattened to rows of the last axis. Cells are escaped (object and string arrays hold anything).
    """
    import numpy as np

    import raymon.types as rt

    _, value = _only(inputs, "numpy2html")
    if not isinstance(value, rt.Numpy):
        raise TypeError(f"numpy2html shows an rt.Numpy, got {type(value).__name__}")
    array = value.data
    limit = limit_of(params)
    caption = f'<p class="raymon-shape">shape {escape(str(tuple(array.shape)))}, dtype {escape(str(array.dtype))}</p>'
    heatmap = ""
    if array.ndim == 2 and array.size and array.dtype.kind in "biuf":
        heatmap = _heatmap(array)
    if array.ndim == 0:
        return caption + f'<pre class="raymon-native">{escape(str(array.item()))}</pre>'
    table_rows = array.reshape(-1, 1) if array.ndim == 1 else array.reshape(-1, array.shape[-1])
    shown = table_rows if limit is None else table_rows[:limit]
    columns = ["value"] if array.ndim == 1 else [str(i) for i in range(array.shape[-1])]
    if array.ndim > 2:
        keys = [tuple(map(str, np.unravel_index(i, array.shape[:-1]))) for i in range(len(shown))]
        keys = [(", ".join(k),) for k in keys]
    else:
        keys = [(str(i),) for i in range(len(shown))]
    rows = [(key, list(row)) for key, row in zip(keys, shown, strict=True)]
    table = _table(columns, [""], rows)
    return caption + heatmap + table + _more(len(table_rows) - len(shown), "rows")


# --- native values ------------------------------------------------------------------------------------


def native2html(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """An ``rt.Native`` value as indented, escaped JSON (a list or dict: its first ``limit`` items)."""
    import raymon.types as rt

    _, value = _only(inputs, "native2html")
    if not isinstance(value, rt.Native):
        raise TypeError(f"native2html shows an rt.Native, got {type(value).__name__}")
    data = value.data
    limit = limit_of(params)
    hidden = 0
    if limit is not None and isinstance(data, (list, tuple)) and len(data) > limit:
        hidden, data = len(data) - limit, list(data[:limit])
    elif limit is not None and isinstance(data, dict) and len(data) > limit:
        hidden, data = len(data) - limit, dict(list(data.items())[:limit])
    text = orjson.dumps(
        data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()
    cut = ""
    if limit is not None and len(text) > MAX_NATIVE_CHARS:
        text, cut = text[:MAX_NATIVE_CHARS], "\n..."
    return f'<pre class="raymon-native">{escape(text)}{cut}</pre>' + _more(hidden, "items")
