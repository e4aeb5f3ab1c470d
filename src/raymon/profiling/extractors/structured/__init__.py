"""Extractors for structured (tabular) data: elements, anomaly scores, classifier confidence, errors."""

from raymon.profiling.extractors.structured.element import ElementExtractor
from raymon.profiling.extractors.structured.generate import generate_components

__all__ = ["ElementExtractor", "generate_components"]
