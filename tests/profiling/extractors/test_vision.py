"""Vision extractors on small generated PIL images and NumPy arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from raymon import InputComponent, ModelProfile
from raymon.profiling import ProfileError
from raymon.profiling.extractors.base import extractor_from_jcr
from raymon.profiling.extractors.vision import AvgIntensity, ImageOutlierScorer, Sharpness


def checkerboard(size: int = 32, cell: int = 4, bright: int = 255) -> Image.Image:
    y, x = np.indices((size, size))
    board = (((x // cell) + (y // cell)) % 2 * bright).astype(np.uint8)
    return Image.fromarray(board, mode="L").convert("RGB")


def noisy(seed: int, level: int = 128) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(level, 20, (24, 24, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def test_average_intensity_matches_pil_grey_levels() -> None:
    image = noisy(1)
    assert AvgIntensity().extract(image) == pytest.approx(
        np.asarray(image.convert("L"), dtype=float).mean(), abs=0.6
    )
    assert AvgIntensity().extract(Image.new("L", (8, 8), 200)) == 200.0
    assert AvgIntensity().extract(np.full((4, 4, 3), 10, dtype=np.uint8)) == pytest.approx(10.0)


def test_sharpness_drops_when_an_image_is_blurred() -> None:
    sharp = checkerboard()
    blurred = sharp.filter(ImageFilter.GaussianBlur(2))
    assert Sharpness().extract(sharp) > 3 * Sharpness().extract(blurred)
    assert Sharpness().extract(Image.new("L", (8, 8), 50)) == 0.0


def test_batches_of_images_and_arrays() -> None:
    images = [noisy(i) for i in range(3)]
    assert AvgIntensity().extract_batch(images).tolist() == [AvgIntensity().extract(i) for i in images]
    stack = np.stack([np.asarray(i) for i in images])
    np.testing.assert_allclose(Sharpness().extract_batch(stack), [Sharpness().extract(i) for i in images])
    with pytest.raises(ProfileError, match="batch of images"):
        AvgIntensity().extract_batch("not images")


def test_outlier_score_flags_an_unusual_image_and_survives_json() -> None:
    reference = [noisy(i) for i in range(40)]
    scorer = ImageOutlierScorer(k=2)
    scorer.fit(reference)
    usual, unusual = scorer.extract(noisy(99)), scorer.extract(checkerboard())
    assert unusual > 5 * usual
    loaded = extractor_from_jcr(json.loads(json.dumps(scorer.to_jcr())))
    assert loaded.extract(checkerboard()) == pytest.approx(unusual)


def test_image_profile_builds_from_a_list_of_images_and_validates_one() -> None:
    profile = ModelProfile(
        "camera",
        "1",
        components=[
            InputComponent("intensity", AvgIntensity()),
            InputComponent("sharpness", Sharpness()),
            InputComponent("outlier", ImageOutlierScorer(k=2)),
        ],
    )
    profile.build(input=[noisy(i) for i in range(30)], silent=True)
    tags = profile.validate_input(Image.new("RGB", (24, 24), (255, 255, 255)), tag_format="simple")
    assert tags["intensity-error"] == "UpperBoundError" and tags["outlier-error"] == "UpperBoundError"
    array_tags = profile.validate_input(np.asarray(noisy(5)), batch=False, tag_format="simple")
    assert "intensity" in array_tags


def test_an_array_that_is_no_image_is_refused() -> None:
    with pytest.raises(ProfileError, match="an image must be"):
        AvgIntensity().extract(np.zeros((2, 2, 7)))
