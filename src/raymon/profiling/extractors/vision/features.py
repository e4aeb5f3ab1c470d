"""Simple image features: grey levels, intensity, sharpness, the feature vector of the outlier scorer.

Images are PIL images or NumPy arrays (H x W grey, H x W x 3 RGB or H x W x 4
RGBA). Grey levels follow PIL's ``convert("L")`` weights (ITU-R 601-2 luma) on
the image's own scale (0-255 for 8-bit images). This module never learns from
data (the extractors that fit do).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raymon.profiling.errors import ProfileError

LUMA = np.asarray([0.299, 0.587, 0.114])


def image_array(image: Any) -> np.ndarray:
    """An image as a float64 array, H x W or H x W x C."""
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        if image.mode not in ("L", "RGB", "F", "I"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        arr = np.asarray(image, dtype=np.float64)
    else:
        arr = (
            np.asarray(image, dtype=np.float64)
            if not isinstance(image, np.ndarray)
            else image.astype(np.float64)
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise ProfileError(
            f"an image must be H x W, H x W x 3 or H x W x 4, got an array of shape {arr.shape}"
        )
    return arr


def grey(image: Any) -> np.ndarray:
    """Grey levels (H x W) of an image; the alpha channel is ignored."""
    arr = image_array(image)
    if arr.ndim == 2:
        return arr
    return arr[:, :, :3] @ LUMA


def average_intensity(image: Any) -> float:
    return float(grey(image).mean())


def laplacian_variance(image: Any) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image: high for sharp images, low for blurred ones."""
    g = grey(image)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = -4.0 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def image_features(image: Any) -> np.ndarray:
    """Mean and standard deviation of each of R, G, B (grey repeated for grey images), sharpness, aspect ratio."""
    arr = image_array(image)
    rgb = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr[:, :, :3]
    flat = rgb.reshape(-1, 3)
    return np.concatenate(
        [flat.mean(axis=0), flat.std(axis=0), [laplacian_variance(arr), arr.shape[1] / arr.shape[0]]]
    )


def image_batch(batch: Any) -> list[Any]:
    """The images of a batch: a list or tuple of images, or an array whose first axis runs over images."""
    if isinstance(batch, (list, tuple)):
        return list(batch)
    if isinstance(batch, np.ndarray) and batch.ndim in (3, 4):
        return list(batch)
    raise ProfileError(
        "a batch of images must be a list of PIL images or arrays, or an array of shape "
        f"(n, H, W) or (n, H, W, C); got {type(batch).__name__} {getattr(batch, 'shape', '')}"
    )
