"""The built-in visualisations the original Raymon shipped: ``img2html``, ``pandas2html``, ``native2html``.

A manifest's ``visualize`` actions name them (``function: img2html``); the trace page calls
them with the trace's loaded objects (``hookspecs.Visualisation``: ``function(inputs,
params) -> str``). Everything taken from the data is escaped: an object can hold hostile
HTML. They never read the database and never fetch anything.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import orjson

MAX_ROWS = 50
MAX_NATIVE_CHARS = 20_000
MAX_IMAGE_SIDE = 1024


def _only(inputs: dict[str, Any], function: str) -> Any:
    if len(inputs) != 1:
        raise ValueError(f"{function} takes one input, got {sorted(inputs)}")
    return next(iter(inputs.values()))


def img2html(inputs: dict[str, Any], params: dict[str, Any]) -> str:
    """An ``rt.Image`` as an inline PNG (scaled down to at most 1024 pixels a side)."""
    import raymon.types as rt

    image = _only(inputs, "img2html")
    if not isinstance(image, rt.Image):
        raise TypeError(f"img2html shows an rt.Image, got {type(image).__name__}")
    picture = image.data.copy()
    picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(f"{picture.width}x{picture.height} {picture.mode} image")
    return f'<img class="raymon-image" alt="{alt}" src="data:image/png;base64,{encoded}">'


def pandas2html(inputs: dict[str, Any], params: dict[str, Any]) -> str:
    """An ``rt.DataFrame`` or ``rt.Series`` as an escaped HTML table (its first 50 rows)."""
    import pandas as pd

    import raymon.types as rt

    value = _only(inputs, "pandas2html")
    if not isinstance(value, (rt.DataFrame, rt.Series)):
        raise TypeError(f"pandas2html shows an rt.DataFrame or rt.Series, got {type(value).__name__}")
    frame = value.data if isinstance(value.data, pd.DataFrame) else value.data.to_frame()
    shown = frame.head(MAX_ROWS)
    table = shown.to_html(escape=True, border=0, classes="raymon-table")
    more = len(frame) - len(shown)
    return table + (f"<p>{more} more rows</p>" if more > 0 else "")


def native2html(inputs: dict[str, Any], params: dict[str, Any]) -> str:
    """An ``rt.Native`` value as indented, escaped JSON."""
    import raymon.types as rt

    value = _only(inputs, "native2html")
    if not isinstance(value, rt.Native):
        raise TypeError(f"native2html shows an rt.Native, got {type(value).__name__}")
    text = orjson.dumps(value.data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()
    if len(text) > MAX_NATIVE_CHARS:
        text = text[:MAX_NATIVE_CHARS] + "\n..."
    return f'<pre class="raymon-native">{html.escape(text)}</pre>'
