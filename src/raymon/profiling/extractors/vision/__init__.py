"""Extractors for images (PIL images or NumPy arrays): intensity, sharpness, outlier score."""

from raymon.profiling.extractors.vision.extractors import AvgIntensity, ImageOutlierScorer, Sharpness

__all__ = ["AvgIntensity", "Sharpness", "ImageOutlierScorer"]
