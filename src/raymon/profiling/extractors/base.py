"""The extractor base classes: how a component turns a sample (or a batch) into one value.

Subclass ``Extractor`` (for input, output and actual components: one piece of
data) or ``EvalExtractor`` (for evaluation components: an output and an
actual). Every subclass registers itself in ``raymon.registry`` under its
qualified name (``module.Class``) when it is defined, so a saved profile finds
its extractors again, including a user's own (``extractor_from_jcr`` imports
the module when needed, as ``raymon.types`` does for data wrappers; given the
server's ``ClassTable`` it resolves only registered classes and imports nothing).

An extractor's saved form is ``{"class": "<module>.<Class>", "state": {...}}``
where ``state`` is plain JSON: its parameters and whatever it learnt in
``fit``. The default ``state()`` takes the instance's public attributes and
refuses anything JSON cannot hold; extractors with fitted arrays override
``state``/``from_state``. Never pickle: a saved profile must load in later
releases and in other languages. This module never computes statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import pandas as pd

from raymon import registry
from raymon.profiling.errors import ProfileError, UnknownProfileClassError

E = TypeVar("E", bound="ExtractorBase")


def _check_json(value: Any, where: str) -> None:
    """Refuse what JSON cannot hold exactly, naming where it was found."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProfileError(f"{where} is {value!r}: a saved extractor state must hold finite numbers")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProfileError(f"{where} has a key {key!r} that is not a string")
            _check_json(item, f"{where}[{key!r}]")
        return
    raise ProfileError(
        f"{where} is a {type(value).__name__}, which JSON cannot hold: convert it in state() "
        "(e.g. array.tolist()) and back in from_state()"
    )


class ExtractorBase:
    """What every extractor shares: registration by qualified name, fitting and a JSON state."""

    class_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.class_name = registry.register("extractor", cls)

    @property
    def is_fitted(self) -> bool:
        """False while an extractor that learns from reference data has not been fitted yet."""
        return True

    def state(self) -> dict[str, Any]:
        """Parameters and learnt state as plain JSON; by default the public instance attributes."""
        state = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        _check_json(state, f"{type(self).__name__} state")
        return state

    @classmethod
    def from_state(cls: type[E], state: Mapping[str, Any]) -> E:
        """Rebuild an extractor from ``state()``; by default sets the attributes back without ``__init__``."""
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        return obj

    def to_jcr(self) -> dict[str, Any]:
        return {"class": type(self).class_name, "state": self.state()}

    def __repr__(self) -> str:
        try:
            params = ", ".join(
                f"{k}={v!r}" for k, v in self.state().items() if not isinstance(v, (list, dict))
            )
        except ProfileError:
            params = ""
        return f"{type(self).__name__}({params})"


class Extractor(ExtractorBase):
    """Turns one sample of a model's input, output or actual into one value (a number or a category).

    Implement ``extract(sample)``. For speed on large builds also implement
    ``extract_batch(batch)`` answering one value per sample (array, Series or list);
    the default calls ``extract`` on each sample. Extractors that learn from the
    reference data (e.g. an anomaly scorer) implement ``fit(batch)``, called once by
    ``ModelProfile.build`` before extraction, and answer ``is_fitted``.

    A structured sample reaches ``extract`` as a dict-like (a dict or a pandas
    Series, also for one row of a DataFrame) or a 1-D sequence; an image as a PIL
    image or a NumPy array.
    """

    def fit(self, batch: Any) -> None:
        """Learn from the reference batch; the default learns nothing."""

    def extract(self, sample: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement extract(sample)")

    def extract_batch(self, batch: Any) -> Any:
        return [self.extract(sample) for sample in iter_samples(batch)]


class EvalExtractor(ExtractorBase):
    """Turns a model's output and the actual (ground truth) of one sample into one value, e.g. its error.

    Implement ``extract(output, actual)``; optionally ``extract_batch(outputs, actuals)``
    (vectorised) and ``fit(outputs, actuals)``.
    """

    def fit(self, outputs: Any, actuals: Any) -> None:
        """Learn from the reference batch; the default learns nothing."""

    def extract(self, output: Any, actual: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement extract(output, actual)")

    def extract_batch(self, outputs: Any, actuals: Any) -> Any:
        return [self.extract(o, a) for o, a in zip(iter_samples(outputs), iter_samples(actuals), strict=True)]


def extractor_from_jcr(jcr: Mapping[str, Any], classes: registry.ClassTable | None = None) -> ExtractorBase:
    """The extractor ``jcr`` was saved from, importing the module of a user's own class when needed.

    ``classes`` (the server's): only the extractor classes in it load, nothing is imported.
    """
    if not isinstance(jcr, Mapping) or "class" not in jcr or "state" not in jcr:
        raise ProfileError(f'an extractor must be saved as {{"class": ..., "state": ...}}, got {jcr!r}')
    try:
        cls = cast(type[ExtractorBase], registry.resolve("extractor", jcr["class"], classes))
    except registry.UnknownClassError as exc:
        raise UnknownProfileClassError(str(exc), exc.kind, exc.name) from None
    return cls.from_state(jcr["state"])


def batch_length(batch: Any) -> int:
    """How many samples a batch holds."""
    if isinstance(batch, (pd.DataFrame, pd.Series, np.ndarray, list, tuple)):
        return len(batch)
    raise ProfileError(
        f"a batch must be a DataFrame, Series, NumPy array, list or tuple, got {type(batch).__name__}"
    )


def iter_samples(batch: Any) -> Iterator[Any]:
    """The samples of a batch one by one: DataFrame rows as dicts, array rows, list items."""
    if isinstance(batch, pd.DataFrame):
        yield from batch.to_dict("records")
    elif isinstance(batch, pd.Series):
        yield from batch.tolist()
    elif isinstance(batch, (np.ndarray, list, tuple)):
        yield from batch
    else:
        raise ProfileError(
            f"a batch must be a DataFrame, Series, NumPy array, list or tuple, got {type(batch).__name__}"
        )
