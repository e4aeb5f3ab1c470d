"""Extractors: how a component gets its value from a sample. Subclass ``Extractor`` for your own.

``ElementExtractor`` is re-exported lazily: ``structured`` imports the
components module, which imports ``extractors.base``, so an eager import here
would be circular.
"""

from typing import Any

from raymon.profiling.extractors.base import EvalExtractor, Extractor, ExtractorBase, extractor_from_jcr

__all__ = ["Extractor", "EvalExtractor", "ExtractorBase", "ElementExtractor", "extractor_from_jcr"]


def __getattr__(name: str) -> Any:
    if name == "ElementExtractor":
        from raymon.profiling.extractors.structured.element import ElementExtractor

        return ElementExtractor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
