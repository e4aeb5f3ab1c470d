"""Scores: one number that summarises evaluation components over a profile (MAE, precision, ...).

A score is computed from its input components' *stats*, never from raw rows,
so the same score can be computed on a merged window of stats by the backend's
reducers. Mean scores read a numeric component's mean; the classification
scores read the frequencies of a component whose values are ``TP``, ``FP``,
``TN`` and ``FN`` (``ClassificationErrorType``). This module never extracts or
validates data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

from raymon import registry
from raymon.profiling.errors import ProfileError, UnknownProfileClassError
from raymon.profiling.names import name_key
from raymon.profiling.stats import CategoricalStats, NumericStats, Stats

PREFERENCES = ("high", "low")


class Score:
    """A named summary of ``inputs`` (component names); ``preference`` says whether higher or lower is better.

    Subclass it and implement ``compute(stats_by_input)``; subclasses register in ``raymon.registry``
    under their qualified name (``module.Class``), which is what a saved profile stores.
    """

    default_preference: ClassVar[str | None] = None
    n_inputs: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        registry.register("score", cls)

    def __init__(self, name: str, inputs: Sequence[str], preference: str | None = None) -> None:
        from raymon.profiling.components import normalize_name

        self.name = normalize_name(name, "score")
        if "@" in self.name:
            raise ProfileError(f"a score name must not contain '@', got {name!r}")
        if (
            isinstance(inputs, str)
            or not isinstance(inputs, Sequence)
            or not all(isinstance(i, str) for i in inputs)
        ):
            raise ProfileError(
                f"score {self.name!r}: inputs must be a list of component names, got {inputs!r}"
            )
        if len(inputs) != self.n_inputs:
            raise ProfileError(
                f"score {self.name!r}: {type(self).__name__} takes {self.n_inputs} input component(s), got {list(inputs)}"
            )
        self.inputs = [name_key(i) for i in inputs]
        preference = preference if preference is not None else self.default_preference
        if preference not in PREFERENCES:
            raise ProfileError(f"score {self.name!r}: preference must be 'high' or 'low', got {preference!r}")
        self.preference = preference
        self.result: float | None = None

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        """The score from its inputs' stats; None when it is undefined (e.g. no positives)."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute(stats)")

    def build(self, stats: Mapping[str, Stats]) -> None:
        missing = [i for i in self.inputs if i not in stats]
        if missing:
            raise ProfileError(
                f"score {self.name!r} reads components {missing}, which the profile does not have"
            )
        self.result = self.compute(stats)

    def to_jcr(self) -> dict[str, Any]:
        return {
            "class": registry.qualified_name(type(self)),
            "name": self.name,
            "inputs": list(self.inputs),
            "preference": self.preference,
            "result": self.result,
        }

    @staticmethod
    def from_jcr(jcr: Mapping[str, Any], classes: registry.ClassTable | None = None) -> Score:
        """The score ``jcr`` was saved from; ``classes`` (the server's): only those classes load."""
        if not isinstance(jcr, Mapping) or "class" not in jcr:
            raise ProfileError(f'a score must be saved as {{"class": ..., "name": ...}}, got {jcr!r}')
        try:
            cls = cast(type[Score], registry.resolve("score", jcr["class"], classes))
        except registry.UnknownClassError as exc:
            raise UnknownProfileClassError(str(exc), exc.kind, exc.name) from None
        score = cls(jcr["name"], jcr["inputs"], jcr["preference"])
        score.result = None if jcr.get("result") is None else float(jcr["result"])
        return score

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, inputs={self.inputs}, "
            f"preference={self.preference!r}, result={self.result!r})"
        )


class MeanScore(Score):
    """The mean of a numeric component, e.g. ``MeanScore("MAE", ["abs_error"], "low")``."""

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        s = stats[self.inputs[0]]
        if not isinstance(s, NumericStats):
            raise ProfileError(
                f"score {self.name!r}: MeanScore needs a numeric component, {self.inputs[0]!r} is not"
            )
        return None if s.finite == 0 else float(s.mean)


def _confusion(score: Score, stats: Mapping[str, Stats]) -> dict[str, int]:
    s = stats[score.inputs[0]]
    if not isinstance(s, CategoricalStats):
        raise ProfileError(
            f"score {score.name!r}: {type(score).__name__} needs a categorical component of TP/FP/TN/FN "
            f"values (ClassificationErrorType), {score.inputs[0]!r} is not"
        )
    freq = s.frequencies()
    return {k: int(freq.get(k, 0)) for k in ("TP", "FP", "TN", "FN")}


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


class PrecisionScore(Score):
    """TP / (TP + FP) of a ``ClassificationErrorType`` component."""

    default_preference = "high"

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        c = _confusion(self, stats)
        return _ratio(c["TP"], c["TP"] + c["FP"])


class RecallScore(Score):
    """TP / (TP + FN) of a ``ClassificationErrorType`` component."""

    default_preference = "high"

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        c = _confusion(self, stats)
        return _ratio(c["TP"], c["TP"] + c["FN"])


class F1Score(Score):
    """2 TP / (2 TP + FP + FN) of a ``ClassificationErrorType`` component."""

    default_preference = "high"

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        c = _confusion(self, stats)
        return _ratio(2 * c["TP"], 2 * c["TP"] + c["FP"] + c["FN"])


class AccuracyScore(Score):
    """(TP + TN) / all of a ``ClassificationErrorType`` component."""

    default_preference = "high"

    def compute(self, stats: Mapping[str, Stats]) -> float | None:
        c = _confusion(self, stats)
        return _ratio(c["TP"] + c["TN"], sum(c.values()))
