"""The house-prices demo profile of the profiling tests, as the original Raymon's demo built it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import MeanScore
from raymon.profiling.extractors.structured import (
    AbsoluteRegressionError,
    ElementExtractor,
    SquaredRegressionError,
    generate_components,
)

FEATURES = ["LotArea", "OverallQual", "YearBuilt", "GrLivArea", "Neighborhood", "MSZoning", "LotFrontage"]


def predict(df: pd.DataFrame) -> np.ndarray:
    """A stand-in model: price per living-area square foot times the area."""
    return (df["GrLivArea"].to_numpy(dtype=float) * 110.0 + 10_000.0)[:, None]


def house_profile(dtypes: pd.Series, version: str = "1.0.0") -> ModelProfile:
    """The original Raymon's house-prices demo profile: inputs by dtype, a prediction, its errors, MAE/MSE."""
    return ModelProfile(
        name="houses",
        version=version,
        components=[
            *generate_components(dtypes, complass=InputComponent),
            OutputComponent(name="prediction", extractor=ElementExtractor(element=0)),
            ActualComponent(name="actual", extractor=ElementExtractor(element=0)),
            EvalComponent(name="abs_error", extractor=AbsoluteRegressionError()),
            EvalComponent(name="sq_error", extractor=SquaredRegressionError()),
        ],
        scores=[
            MeanScore(name="MAE", inputs=["abs_error"], preference="low"),
            MeanScore(name="MSE", inputs=["sq_error"], preference="low"),
        ],
    )


def build_houses(profile: ModelProfile, df: pd.DataFrame) -> ModelProfile:
    return profile.build(
        input=df[FEATURES],
        output=predict(df),
        actual=df["SalePrice"].to_numpy()[:, None],
        silent=True,
    )
