"""Model profiles: what a model's inputs, outputs, actuals and evaluations looked like on reference data.

``ModelProfile`` holds components (``InputComponent``, ``OutputComponent``,
``ActualComponent``, ``EvalComponent``), each an extractor plus mergeable stats,
and scores; it validates new data into tags. See docs/profiles.md.

Needs the ``profiles`` extra (NumPy, pandas, SciPy, scikit-learn, DataSketches):
without it, importing this package says ``pip install "raymon[profiles]"``.
"""

from raymon.extras import missing_extra, require_extra

require_extra("profiles", "raymon.profiling")
try:
    from raymon.profiling.components import (
        ActualComponent,
        Component,
        EvalComponent,
        InputComponent,
        OutputComponent,
    )
    from raymon.profiling.errors import NotBuiltError, ProfileError
    from raymon.profiling.extractors import ElementExtractor, EvalExtractor, Extractor
    from raymon.profiling.extractors.structured import generate_components
    from raymon.profiling.profile import ModelProfile
    from raymon.profiling.scores import AccuracyScore, F1Score, MeanScore, PrecisionScore, RecallScore, Score
    from raymon.profiling.stats import CategoricalStats, NumericStats
except ModuleNotFoundError as exc:
    error = missing_extra("profiles", "raymon.profiling", exc)
    if error is exc:
        raise
    raise error from exc

__all__ = [
    "ModelProfile",
    "Component",
    "InputComponent",
    "OutputComponent",
    "ActualComponent",
    "EvalComponent",
    "Extractor",
    "EvalExtractor",
    "ElementExtractor",
    "generate_components",
    "Score",
    "MeanScore",
    "PrecisionScore",
    "RecallScore",
    "F1Score",
    "AccuracyScore",
    "NumericStats",
    "CategoricalStats",
    "ProfileError",
    "NotBuiltError",
]
