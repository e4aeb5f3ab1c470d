"""An example Raymon plugin: a visualisation, a mapper and an extractor class the server may load."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from raymon import Tag
from raymon.profiling import Extractor
from raymon.server.plugins import Mapper, Visualisation, hookimpl


class WordCount(Extractor):
    """The number of words in a sample's text field."""

    def __init__(self, field: str = "text") -> None:
        self.field = field

    def extract(self, sample: Any) -> int:
        return len(str(sample[self.field]).split())


def text_html(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The object's text, escaped, in a <pre>."""
    return f"<pre>{html.escape(str(inputs['data'].data))}</pre>"


def side_by_side(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Several objects next to each other, each escaped, in a one-row table (a visualisation of several inputs)."""
    cells = "".join(f"<td><pre>{html.escape(str(value.data))}</pre></td>" for value in inputs.values())
    return f"<table><tr>{cells}</tr></table>"


def word_count(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[Tag]:
    """A metric tag: how many words the object's text has."""
    words = len(str(inputs["data"].data).split())
    return [Tag("word_count", words, "metric", params.get("group"))]


@hookimpl
def register_visualisations() -> list[Visualisation]:
    return [
        Visualisation("text_html", text_html, "The object's text, escaped, in a <pre>"),
        Visualisation("side_by_side", side_by_side, "Several objects next to each other"),
    ]


@hookimpl
def register_mappers() -> list[Mapper]:
    return [Mapper("word_count", word_count, "Tags a trace with the word count of a text object")]


@hookimpl
def register_extractors() -> list[type[Extractor]]:
    return [WordCount]
