"""Extractors for structured (tabular) data: elements, anomaly scores, classifier confidence, errors."""

from raymon.profiling.extractors.structured.anomaly import IsolationForestScorer, KMeansOutlierScorer
from raymon.profiling.extractors.structured.classifier import ClassifierEntropy, ClassifierMargin
from raymon.profiling.extractors.structured.element import ElementExtractor
from raymon.profiling.extractors.structured.generate import generate_components
from raymon.profiling.extractors.structured.scoring import (
    AbsoluteRegressionError,
    ClassificationCorrect,
    ClassificationErrorType,
    SquaredRegressionError,
)

__all__ = [
    "ElementExtractor",
    "generate_components",
    "IsolationForestScorer",
    "KMeansOutlierScorer",
    "ClassifierEntropy",
    "ClassifierMargin",
    "AbsoluteRegressionError",
    "SquaredRegressionError",
    "ClassificationCorrect",
    "ClassificationErrorType",
]
