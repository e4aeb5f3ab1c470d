"""A small built profile and its validation tags, for the reduce lane's tests and bench."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import MeanScore
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor


def reference_profile(
    n_features: int = 3, n: int = 500, seed: int = 0, version: str = "1.0.0", eval_name: str = "abs_error"
) -> ModelProfile:
    """``shop@version``: float, int and categorical features, a prediction, its actual, abs_error and MAE."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    components: list[Any] = []
    for i in range(n_features):
        name = f"f{i}"
        kind = i % 3
        if kind == 0:
            columns[name] = rng.normal(10, 2, n)
            dtype = "FLOAT"
        elif kind == 1:
            columns[name] = rng.integers(0, 10, n)
            dtype = "INT"
        else:
            columns[name] = rng.choice(["a", "b", "c"], n)
            dtype = "CAT"
        components.append(InputComponent(name=name, extractor=ElementExtractor(element=name), dtype=dtype))
    frame = pd.DataFrame(columns)
    output = rng.normal(100, 10, (n, 1))
    actual = output + rng.normal(0, 5, (n, 1))
    profile = ModelProfile(
        "shop",
        version,
        components=[
            *components,
            OutputComponent(name="prediction", extractor=ElementExtractor(element=0)),
            ActualComponent(name="actual", extractor=ElementExtractor(element=0)),
            EvalComponent(name=eval_name, extractor=AbsoluteRegressionError()),
        ],
        scores=[MeanScore(name="MAE", inputs=[eval_name], preference="low")],
    )
    return profile.build(input=frame, output=output, actual=actual, silent=True)


def sample_tags(
    profile: ModelProfile, rng: np.random.Generator, shift: float = 0.0, n_features: int = 3
) -> list[dict[str, Any]]:
    """The validation tags of one request and its actual (shifted by ``shift`` standard deviations)."""
    row: dict[str, Any] = {}
    for i in range(n_features):
        kind = i % 3
        row[f"f{i}"] = (
            float(rng.normal(10 + 2 * shift, 2))
            if kind == 0
            else int(rng.integers(0, 10))
            if kind == 1
            else str(rng.choice(["a", "b", "c"]))
        )
    output = [float(rng.normal(100, 10))]
    actual = [output[0] + float(rng.normal(0, 5))]
    return list(profile.validate_all(input=row, output=output, actual=actual))
